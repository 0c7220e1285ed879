// A broken derive reports its own errors only: the fallback impl keeps the type a signal,
// so the receivers and the sends below compile (the response type is kept when it parsed).
use signals_core::prelude::*;

#[derive(Signal)]
#[signal(response = bool, max_depth = 0)]
pub struct Published<'a> {
    pub title: &'a str,
}

#[derive(Signal)]
pub struct Exported<'a, T: 'static> {
    pub value: &'a T,
}

#[receiver(Published)]
fn approve(event: &Published<'_>) -> bool {
    !event.title.is_empty()
}

type Numbers<'a> = Exported<'a, u32>;

#[receiver(Numbers)]
fn count(event: &Numbers<'_>) {
    let _ = event.value;
}

fn main() {
    let _ = Published { title: "hello" }.send();
    let _ = Exported { value: &1u32 }.send();
}
