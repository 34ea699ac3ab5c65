//! The line queue between two real threads: one producer thread pushing a flood of lines
//! from three sources, one consumer thread draining and rendering them, as the memory
//! manager's main thread and console thread do.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use console::{LineQueue, Source};

const NAMES: [&str; 2] = ["flood", "steady"];
const FLOOD_LINES: u64 = 100_000;
static QUEUE: LineQueue<32768> = LineQueue::new();

/// The text of line `number` of `source`: its own numbers at both ends and a body derived
/// from them, so a torn or mixed line cannot pass for a whole one.
fn text(source: u8, number: u64) -> String {
    let fill = char::from(b'a' + (number % 26) as u8);
    let body: String = std::iter::repeat_n(fill, (number % 300) as usize).collect();
    format!("s{source} n{number} {body} end{source}.{number}")
}

#[test]
fn every_line_is_delivered_whole_or_counted_as_dropped() {
    let done = &AtomicBool::new(false);
    let mut producer = QUEUE.producer().expect("the first producer");
    let mut consumer = QUEUE.consumer().expect("the first consumer");
    let sources = [Source::MEMORY_MANAGER, Source::realm(1).unwrap(), Source::realm(2).unwrap()];

    let (pushed, output) = std::thread::scope(|scope| {
        let consumer = scope.spawn(move || {
            let mut output = Vec::new();
            let mut records = 0u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                if consumer.write_next(&NAMES, |byte| output.push(byte)).is_some() {
                    records += 1;
                    // A slow console: the producer outruns it now and then.
                    if records.is_multiple_of(2000) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                } else if finished {
                    break;
                } else {
                    std::thread::yield_now();
                }
            }
            output
        });
        let producer = scope.spawn(move || {
            let mut pushed = BTreeMap::new();
            for number in 0..FLOOD_LINES {
                let mut push = |source: Source, number: u64| {
                    let _ = producer.push(source, text(source.index(), number).as_bytes(), false);
                    *pushed.entry(source.index()).or_insert(0u64) += 1;
                };
                push(sources[1], number);
                if number.is_multiple_of(10) {
                    push(sources[2], number / 10);
                }
                if number.is_multiple_of(100) {
                    push(sources[0], number / 100);
                }
            }
            for source in sources {
                while producer.flush_drops(source).is_err() {
                    std::thread::yield_now();
                }
            }
            done.store(true, Ordering::Release);
            pushed
        });
        (producer.join().unwrap(), consumer.join().unwrap())
    });

    let output = String::from_utf8(output).expect("the console's output is UTF-8");
    assert!(output.ends_with('\n'));
    let mut delivered: BTreeMap<u8, u64> = BTreeMap::new();
    let mut reported: BTreeMap<u8, u64> = BTreeMap::new();
    let mut last_number: BTreeMap<u8, u64> = BTreeMap::new();
    for line in output.lines() {
        if let Some(event) = line.strip_prefix("SWITCHBOARD-EVENT lines-dropped source=") {
            let (source, rest) = event.split_once(' ').unwrap();
            let count = rest.rsplit_once("count=").unwrap().1;
            *reported.entry(source.parse().unwrap()).or_default() += count.parse::<u64>().unwrap();
            continue;
        }
        let (source, body) = if let Some(rest) = line.strip_prefix("[flood] ") {
            (1, rest)
        } else if let Some(rest) = line.strip_prefix("[steady] ") {
            (2, rest)
        } else if line.starts_with("memory manager: ") {
            assert!(line.ends_with(" dropped"), "unexpected line {line:?}");
            continue;
        } else {
            (0, line)
        };
        if body.ends_with(" lines dropped") || body.ends_with(" line dropped") {
            continue;
        }
        let number: u64 = body
            .strip_prefix(&format!("s{source} n"))
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(number, _)| number.parse().ok())
            .unwrap_or_else(|| panic!("a torn or mixed line: {line:?}"));
        assert_eq!(body, text(source, number), "a torn or mixed line");
        if let Some(&last) = last_number.get(&source) {
            assert!(number > last, "source {source}: line {number} after line {last}");
        }
        last_number.insert(source, number);
        *delivered.entry(source).or_default() += 1;
    }
    for (source, pushed) in pushed {
        let delivered = delivered.get(&source).copied().unwrap_or(0);
        let dropped = reported.get(&source).copied().unwrap_or(0);
        assert_eq!(delivered + dropped, pushed, "source {source}: {delivered} + {dropped}");
    }
    assert!(reported.get(&1).copied().unwrap_or(0) > 0, "the flood never outran the console");
    println!("delivered {delivered:?}, reported dropped {reported:?}");
}
