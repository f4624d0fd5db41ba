//! Prints what media-probe finds in the files named on the command line.

use std::fs::File;

fn main() {
    for path in std::env::args().skip(1) {
        let result = File::open(&path).and_then(|mut file| {
            let len = file.metadata()?.len();
            Ok(media_probe::probe(&mut file, len))
        });
        match result {
            Ok(Ok(probe)) => println!("{path}: {} {probe:#?}", probe.mime()),
            Ok(Err(error)) => println!("{path}: error: {error}"),
            Err(error) => println!("{path}: cannot read: {error}"),
        }
    }
}
