//! Nothing to compile: this package only names the kernel source package.
