use signals_core::prelude::*;

#[derive(Signal)]
#[signal(response = bool)]
pub struct MayPublish<'a> {
    pub title: &'a str,
}

#[derive(Debug)]
pub struct Rejected;

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rejected")
    }
}

impl std::error::Error for Rejected {}

#[receiver(MayPublish)]
fn check_title(event: &MayPublish<'_>) -> Result<bool, Rejected> {
    if event.title.is_empty() {
        Err(Rejected)
    } else {
        Ok(true)
    }
}

#[receiver(MayPublish, priority = 1)]
fn unit_ok(_event: &MayPublish<'_>) -> bool {
    true
}

fn main() {
    let responses = MayPublish { title: "hi" }.send().unwrap();
    assert_eq!(
        responses.values().copied().collect::<Vec<_>>(),
        [true, true]
    );
    assert!(MayPublish { title: "" }.send().is_err());
}
