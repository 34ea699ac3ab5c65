//! `interface-macro`: the `#[interface]` attribute macro (a typed interface declared once as a
//! trait; its client, server trait, dispatch and ELF record generated) and the `Wire` derive
//! (a type opted into an encoding). Used through `interface` (and `realm_runtime`, which
//! re-exports it); the generated code names only `interface`'s and the runtime's items.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, FnArg, GenericArgument, Ident, ItemTrait, LitInt, LitStr, Pat,
    Path, PathArguments, ReturnType, TraitItem, Type, Visibility,
};

/// Declares a typed interface (see the `interface` crate's guide). On a trait whose items are
/// functions without `self`, each an operation:
///
/// ```ignore
/// #[realm_runtime::interface(name = "kv")]
/// pub trait Kv {
///     #[idempotent]
///     fn get(key: Text) -> Result<Text, KvError>;
///     fn put(key: Text, value: Text) -> Result<(), KvError>;
///     fn count() -> u64;
/// }
/// ```
///
/// Arguments: `name = "..."` (required: the interface's name, the one name rule: 1 to 32
/// bytes of `a-z`, `0-9`, `-`), `runtime = path` (optional, default `::realm_runtime`: where
/// `Realm`, `Client`, `Call`, `CallError` and `interface` are). Operation attributes:
/// `#[idempotent]` (retried once after the service restarted), `#[deferrable]` (its handler
/// may answer later: it returns `Deferrable<R>`), `#[operation(N)]` (its number, 1..=0xFFFF;
/// by default one more than the previous operation's, from 1).
#[proc_macro_attribute]
pub fn interface(arguments: TokenStream, item: TokenStream) -> TokenStream {
    let arguments = TokenStream2::from(arguments);
    let item = syn::parse_macro_input!(item as ItemTrait);
    match expand_interface(arguments, item) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Opts a type into a wire encoding: `#[derive(Wire)] #[wire(words)]` for a plain-data
/// struct (it must also derive zerocopy's `IntoBytes`, `FromBytes` and `Immutable`), or
/// `#[derive(Wire)] #[wire(postcard)]` for a serde type (`Serialize` and `Deserialize`).
/// `#[wire(..., runtime = path)]` names the runtime (default `::realm_runtime`).
#[proc_macro_derive(Wire, attributes(wire))]
pub fn derive_wire(item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as DeriveInput);
    match expand_wire(item) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn default_runtime() -> Path {
    syn::parse_quote!(::realm_runtime)
}

fn expand_wire(item: DeriveInput) -> syn::Result<TokenStream2> {
    let mut encoding: Option<Ident> = None;
    let mut runtime = default_runtime();
    for attribute in item.attrs.iter().filter(|a| a.path().is_ident("wire")) {
        attribute.parse_nested_meta(|meta| {
            if meta.path.is_ident("words") || meta.path.is_ident("postcard") {
                encoding = meta.path.get_ident().cloned();
                Ok(())
            } else if meta.path.is_ident("runtime") {
                runtime = meta.value()?.parse()?;
                Ok(())
            } else {
                Err(meta.error("expected `words`, `postcard` or `runtime = path`"))
            }
        })?;
    }
    let Some(encoding) = encoding else {
        return Err(syn::Error::new(
            item.ident.span(),
            "say the encoding: #[wire(words)] (plain data) or #[wire(postcard)] (serde)",
        ));
    };
    if let Data::Union(_) = item.data {
        return Err(syn::Error::new(item.ident.span(), "unions have no wire encoding"));
    }
    let name = &item.ident;
    let (impl_generics, type_generics, where_clause) = item.generics.split_for_impl();
    let interface = quote!(#runtime::interface);
    Ok(if encoding == "words" {
        quote! {
            impl #impl_generics #interface::Words for #name #type_generics #where_clause {}
        }
    } else {
        quote! {
            impl #impl_generics #interface::Wire for #name #type_generics #where_clause {
                #[inline]
                fn encode(&self, words: &mut [u64])
                    -> ::core::result::Result<usize, #interface::EncodeError> {
                    #interface::wire::encode_postcard(self, words)
                }
                #[inline]
                fn decode(words: &[u64])
                    -> ::core::result::Result<(Self, usize), #interface::DecodeError> {
                    #interface::wire::decode_postcard(words)
                }
            }
        }
    })
}

/// One operation of the declaration.
struct Operation {
    name: Ident,
    number: u64,
    idempotent: bool,
    deferrable: bool,
    docs: Vec<Attribute>,
    arguments: Vec<(Ident, Type)>,
    /// The declared result type (`()` when none is written).
    result: Type,
    /// Whether it is written `Result<T, E>`.
    fallible: bool,
}

/// Whether `name` follows the one name rule (`vocabulary::Name`): 1 to 32 bytes of `a-z`,
/// `0-9`, `-`.
fn follows_the_name_rule(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

fn is_result(result: &Type) -> bool {
    let Type::Path(path) = result else { return false };
    let Some(last) = path.path.segments.last() else { return false };
    let PathArguments::AngleBracketed(arguments) = &last.arguments else { return false };
    last.ident == "Result"
        && arguments.args.len() == 2
        && arguments.args.iter().all(|a| matches!(a, GenericArgument::Type(_)))
}

fn expand_interface(arguments: TokenStream2, item: ItemTrait) -> syn::Result<TokenStream2> {
    let mut name: Option<LitStr> = None;
    let mut runtime = default_runtime();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("runtime") {
            runtime = meta.value()?.parse()?;
            Ok(())
        } else {
            Err(meta.error("expected `name = \"...\"` or `runtime = path`"))
        }
    });
    parser.parse2(arguments)?;
    let Some(name) = name else {
        return Err(syn::Error::new(Span::call_site(), "the interface needs `name = \"...\"`"));
    };
    if !follows_the_name_rule(&name.value()) {
        return Err(syn::Error::new(
            name.span(),
            "an interface name is 1 to 32 bytes of `a-z`, `0-9` and `-` (the one name rule)",
        ));
    }
    if !item.generics.params.is_empty() || !item.supertraits.is_empty() {
        return Err(syn::Error::new(
            item.ident.span(),
            "an interface trait has no generics and no supertraits",
        ));
    }

    let mut operations = Vec::new();
    let mut next_number = 1u64;
    for trait_item in &item.items {
        let TraitItem::Fn(function) = trait_item else {
            return Err(syn::Error::new(trait_item.span(), "an interface has only operations"));
        };
        let signature = &function.sig;
        if function.default.is_some()
            || !signature.generics.params.is_empty()
            || signature.asyncness.is_some()
            || signature.unsafety.is_some()
        {
            return Err(syn::Error::new(
                signature.span(),
                "an operation is `fn name(argument: Type, ...) -> Result`, with no body, generics, async or unsafe",
            ));
        }
        let mut operation = Operation {
            name: signature.ident.clone(),
            number: next_number,
            idempotent: false,
            deferrable: false,
            docs: Vec::new(),
            arguments: Vec::new(),
            result: match &signature.output {
                ReturnType::Default => syn::parse_quote!(()),
                ReturnType::Type(_, result) => (**result).clone(),
            },
            fallible: false,
        };
        operation.fallible = is_result(&operation.result);
        for attribute in &function.attrs {
            let path = attribute.path();
            if path.is_ident("doc") {
                operation.docs.push(attribute.clone());
            } else if path.is_ident("idempotent") {
                attribute.meta.require_path_only()?;
                operation.idempotent = true;
            } else if path.is_ident("deferrable") {
                attribute.meta.require_path_only()?;
                operation.deferrable = true;
            } else if path.is_ident("operation") {
                let number: LitInt = attribute.parse_args()?;
                operation.number = number.base10_parse()?;
            } else {
                return Err(syn::Error::new(
                    attribute.span(),
                    "an operation takes `#[idempotent]`, `#[deferrable]`, `#[operation(N)]` and doc comments",
                ));
            }
        }
        if !(1..=0xFFFF).contains(&operation.number) {
            return Err(syn::Error::new(
                signature.ident.span(),
                "operation numbers are 1..=0xFFFF (the labels above are the runtime's replies)",
            ));
        }
        if operations.iter().any(|other: &Operation| other.number == operation.number) {
            return Err(syn::Error::new(
                signature.ident.span(),
                format!("operation number {} is taken", operation.number),
            ));
        }
        for input in &signature.inputs {
            let FnArg::Typed(argument) = input else {
                return Err(syn::Error::new(input.span(), "operations take no `self`"));
            };
            let Pat::Ident(pattern) = &*argument.pat else {
                return Err(syn::Error::new(argument.pat.span(), "an argument is `name: Type`"));
            };
            operation.arguments.push((pattern.ident.clone(), (*argument.ty).clone()));
        }
        next_number = operation.number + 1;
        operations.push(operation);
    }

    Ok(generate(&item, &name.value(), &runtime, &operations))
}

/// The canonical text the fingerprint is computed from (see `interface::fingerprint`).
fn canonical_text(name: &str, operations: &[Operation]) -> String {
    let mut text = format!("interface {name};");
    for operation in operations {
        let arguments: Vec<String> =
            operation.arguments.iter().map(|(_, ty)| quote!(#ty).to_string()).collect();
        let result = &operation.result;
        text.push_str(&format!(
            "op {} {}({})->{}",
            operation.number,
            operation.name,
            arguments.join(","),
            quote!(#result)
        ));
        if operation.idempotent {
            text.push_str(" idempotent");
        }
        if operation.deferrable {
            text.push_str(" deferrable");
        }
        text.push(';');
    }
    text
}

fn generate(
    item: &ItemTrait,
    name: &str,
    runtime: &Path,
    operations: &[Operation],
) -> TokenStream2 {
    let vis: &Visibility = &item.vis;
    let interface = &item.ident;
    let docs: Vec<&Attribute> = item.attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let client = format_ident!("{}Client", interface);
    let server = format_ident!("{}Server", interface);
    let krate = quote!(#runtime::interface);
    let canonical = canonical_text(name, operations);
    let record = format_ident!("__SWITCHBOARD_INTERFACE_{}", interface.to_string().to_uppercase());
    // The generated code's own variables, with mixed-site hygiene: an argument declared with
    // the same name (`used: usize`, `received: usize`, `words: Vec<..>`) is another variable,
    // so it can neither be encoded in place of the counter nor taken for the message.
    let hygienic = |name: &str| Ident::new(name, Span::mixed_site());
    let (__words, __used, __received) = (hygienic("words"), hygienic("used"), hygienic("received"));
    let (__total, __taken) = (hygienic("total"), hygienic("taken"));

    // What both dispatch arms of an operation (the fast one and the general one) generate: the
    // statements decoding its arguments (a failure refuses the request, naming `length` words
    // received), the answer, and the binding of the decoded arguments.
    let dispatch_parts = |operation: &Operation, length: &Ident| {
        let names: Vec<&Ident> = operation.arguments.iter().map(|(name, _)| name).collect();
        let decodes: Vec<TokenStream2> = operation
            .arguments
            .iter()
            .enumerate()
            .map(|(index, (name, ty))| {
                let index = index as u64;
                quote! {
                    let #name = match <#ty as #krate::Wire>::decode(#__words.get(#__used..).unwrap_or_default()) {
                        ::core::result::Result::Ok((value, #__taken)) => {
                            #__used += #__taken;
                            value
                        }
                        ::core::result::Result::Err(error) => {
                            let reason = #krate::reply::bad_argument(error, #index, #length);
                            return #krate::server::refuse(call, reason);
                        }
                    };
                }
            })
            .collect();
        let answer = if operation.deferrable {
            quote!(#krate::server::answer_deferrable(call, &result))
        } else {
            quote!(#krate::server::answer(call, &result))
        };
        let (binding, value) = if names.is_empty() {
            (quote!(let _: () =), quote!())
        } else {
            (quote!(let (#(#names,)*) =), quote!((#(#names,)*)))
        };
        (decodes, answer, binding, value)
    };

    // What the declaration's text cannot say: the layout of the types it names (an alias,
    // or a struct defined elsewhere, changed under the same name).
    let layouts: Vec<TokenStream2> = operations
        .iter()
        .flat_map(|operation| {
            operation.arguments.iter().map(|(_, ty)| ty).chain(core::iter::once(&operation.result))
        })
        .map(|ty| quote!((::core::mem::size_of::<#ty>(), ::core::mem::align_of::<#ty>())))
        .collect();

    let constants = operations.iter().map(|operation| {
        let constant = format_ident!("{}", operation.name.to_string().to_uppercase());
        let number = operation.number;
        let doc = format!("The operation number (request label) of `{}`.", operation.name);
        quote!(#[doc = #doc] pub const #constant: u64 = #number;)
    });

    let client_methods = operations.iter().map(|operation| {
        let method = &operation.name;
        let docs = &operation.docs;
        let number = operation.number;
        let idempotent = operation.idempotent;
        let result = &operation.result;
        let parameters = operation.arguments.iter().map(|(name, ty)| quote!(#name: #ty));
        let encodes = operation.arguments.iter().map(|(name, _)| {
            quote! {
                #__used += #krate::Wire::encode(&#name, #__words.get_mut(#__used..).unwrap_or_default())?;
            }
        });
        quote! {
            #(#docs)*
            #[inline]
            pub fn #method(
                &mut self,
                realm: &mut #runtime::Realm,
                #(#parameters),*
            ) -> ::core::result::Result<#result, #runtime::CallError> {
                realm.invoke::<#interface, #result>(
                    &mut self.0,
                    #number,
                    #idempotent,
                    &|#__words: &mut [u64]| -> ::core::result::Result<usize, #krate::EncodeError> {
                        #[allow(unused_mut)]
                        let mut #__used = 0usize;
                        #(#encodes)*
                        let _ = &#__words;
                        ::core::result::Result::Ok(#__used)
                    },
                )
            }
        }
    });

    let server_methods = operations.iter().map(|operation| {
        let method = &operation.name;
        let docs = &operation.docs;
        let result = &operation.result;
        let parameters = operation.arguments.iter().map(|(name, ty)| quote!(#name: #ty));
        let unit = matches!(result, Type::Tuple(tuple) if tuple.elems.is_empty());
        let returns = if operation.deferrable {
            quote!(-> #krate::Deferrable<#result>)
        } else if unit {
            quote!()
        } else {
            quote!(-> #result)
        };
        quote! {
            #(#docs)*
            fn #method(&mut self, call: &mut #runtime::Call<'_>, #(#parameters),*) #returns;
        }
    });

    let arms = operations.iter().map(|operation| {
        let method = &operation.name;
        let number = operation.number;
        let names: Vec<&Ident> = operation.arguments.iter().map(|(name, _)| name).collect();
        let types: Vec<&Type> = operation.arguments.iter().map(|(_, ty)| ty).collect();
        let (decodes, answer, binding, value) = dispatch_parts(operation, &__received);
        quote! {
            #number => {
                #binding {
                    let #__words = #krate::Context::request(call);
                    let #__received = #__words.len();
                    // Fixed-size arguments: the length is checked once, here.
                    const FIXED: ::core::option::Option<usize> =
                        #krate::wire::fixed_total(&[#(<#types as #krate::Wire>::FIXED_WORDS),*]);
                    if let ::core::option::Option::Some(#__total) = FIXED
                        && #__received != #__total
                    {
                        let reason = #krate::BadRequest::WrongLength { received: #__received as u64 };
                        return #krate::server::refuse(call, reason);
                    }
                    #[allow(unused_mut)]
                    let mut #__used = 0usize;
                    #(#decodes)*
                    if #__used != #__received {
                        let reason = #krate::BadRequest::WrongLength { received: #__received as u64 };
                        return #krate::server::refuse(call, reason);
                    }
                    #value
                };
                let result = <S as #server>::#method(server, call, #(#names),*);
                #answer
            }
        }
    });

    // The fast path of each operation whose arguments all have a fixed size: the whole
    // message-info word (label and length, no capabilities: the runtime takes those apart
    // first) compared in one go, the arguments read from the message registers with no
    // length checks left. Any other message goes to the general arms below, which check
    // everything and refuse precisely.
    let fast_arms = operations.iter().map(|operation| {
        let method = &operation.name;
        let number = operation.number;
        let fixed = format_ident!("FIXED_{}", number);
        let names: Vec<&Ident> = operation.arguments.iter().map(|(name, _)| name).collect();
        let types: Vec<&Type> = operation.arguments.iter().map(|(_, ty)| ty).collect();
        let (decodes, answer, binding, value) = dispatch_parts(operation, &__total);
        quote! {
            const #fixed: ::core::option::Option<usize> =
                #krate::wire::fixed_total(&[#(<#types as #krate::Wire>::FIXED_WORDS),*]);
            if let ::core::option::Option::Some(#__total) = #fixed
                && info == (#number << 12) | #__total as u64
            {
                #binding {
                    let #__words = #krate::Context::registers(call).get(..#__total).unwrap_or_default();
                    #[allow(unused_mut)]
                    let mut #__used = 0usize;
                    #(#decodes)*
                    let _ = #__used;
                    #value
                };
                let result = <S as #server>::#method(server, call, #(#names),*);
                return #answer;
            }
        }
    });

    let client_doc = format!(
        "The client of interface `{name}` (`realm.connect::<{interface}>(service)`): one method per operation; the outer `Result` is the transport's, the inner one the operation's as declared."
    );
    let server_doc = format!(
        "The server of interface `{name}`: implement it and serve it with the runtime's `Server`. Each method gets the request's context (the realm, the caller) and the arguments, and returns the declared result."
    );

    quote! {
        #(#docs)*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #vis enum #interface {}

        impl #interface {
            #(#constants)*
            /// The canonical text the fingerprint is computed from.
            pub const CANONICAL: &'static str = #canonical;
            /// The size and alignment (bytes) of each operation's argument types, then its
            /// result type, in declaration order: mixed into the fingerprint after the text.
            pub const LAYOUTS: &'static [(usize, usize)] = &[#(#layouts),*];
        }

        impl #krate::Interface for #interface {
            const NAME: &'static str = #name;
            const FINGERPRINT: u64 = #krate::fingerprint::with_layouts(
                #krate::fingerprint::fnv1a64(#canonical.as_bytes()),
                #interface::LAYOUTS,
            );
            type Client = #client;
        }

        #[doc = #client_doc]
        #vis struct #client(pub #runtime::Client<#interface>);

        impl ::core::convert::From<#runtime::Client<#interface>> for #client {
            fn from(client: #runtime::Client<#interface>) -> Self {
                Self(client)
            }
        }

        /// The client's connection, so that `realm.disconnect(client)` takes the client.
        impl ::core::convert::From<#client> for #runtime::Connection {
            fn from(client: #client) -> Self {
                client.0.into_connection()
            }
        }

        impl ::core::ops::Deref for #client {
            type Target = #runtime::Client<#interface>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl ::core::ops::DerefMut for #client {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl #client {
            #(#client_methods)*
        }

        #[doc = #server_doc]
        #vis trait #server {
            #(#server_methods)*
        }

        impl<'call, S: #server> #krate::Dispatch<S, #runtime::Call<'call>> for #interface {
            #[inline(always)]
            fn dispatch(
                server: &mut S,
                call: &mut #runtime::Call<'call>,
                info: u64,
            ) -> #krate::Answer {
                #(#fast_arms)*
                let operation = (info >> 12) & 0xF_FFFF;
                match operation {
                    #(#arms)*
                    _ => #krate::server::refuse(
                        call,
                        #krate::BadRequest::UnknownOperation { operation },
                    ),
                }
            }
        }

        #krate::__record!(
            #record,
            #name,
            <#interface as #krate::Interface>::FINGERPRINT
        );
    }
}
