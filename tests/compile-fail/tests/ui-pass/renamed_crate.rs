use signals_core as sc;

#[derive(sc::Signal)]
#[signal(crate = sc, response = u32)]
pub struct Measure<'a> {
    pub text: &'a str,
}

#[sc::receiver(Measure, crate = sc, priority = -3, dispatch_uid = "measure")]
fn length(event: &Measure<'_>) -> u32 {
    event.text.len() as u32
}

fn main() {
    use sc::Signal as _;
    let responses = Measure { text: "hello" }.send().unwrap();
    assert_eq!(responses.values().copied().collect::<Vec<_>>(), [5]);
}
