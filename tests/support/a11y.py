"""Checks beyond axe-core, for browser tests: reflow (WCAG 1.4.10), text resize (1.4.4), content on
hover or focus (1.4.13), keyboard operation without traps (2.1.1, 2.1.2) and visible focus (2.4.7).

axe-core inspects one static DOM; these drive the page the way a keyboard user, a person zoomed to
400 % (320 CSS px) or one with large text does. They wait on conditions, never on sleeps.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

REFLOW_WIDTH = 320  # 1280 px at 400 % zoom

_OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > doc.clientWidth + 1) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.right > doc.clientWidth + 1 && getComputedStyle(el).position !== 'absolute') {
        // Report the outermost culprits only.
        if (!wide.some(w => w.contains(el))) wide.push(el);
      }
    }
  }
  return {scroll: doc.scrollWidth, client: doc.clientWidth,
          culprits: wide.slice(0, 5).map(el => el.outerHTML.slice(0, 160))};
}"""


def assert_no_horizontal_scroll(page: Page) -> None:
    """The document does not scroll sideways at the current viewport (content reflows instead)."""
    __tracebackhide__ = True
    result = page.evaluate(_OVERFLOW_JS)
    assert result["scroll"] <= result["client"] + 1, (
        f"{page.url} scrolls sideways: {result['scroll']} px of content in {result['client']} px; "
        f"too wide: {result['culprits']}")


def at_reflow_width(page: Page) -> None:
    page.set_viewport_size({"width": REFLOW_WIDTH, "height": 640})


_CLIPPED_JS = """() => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    if (!el.textContent.trim() || el.closest('.visually-hidden, [hidden], textarea, select')) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // screen-reader-only text is 1 px on purpose
    const clips = ['hidden', 'clip'].includes(s.overflowX) || ['hidden', 'clip'].includes(s.overflowY);
    if (clips && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) out.push(el.outerHTML.slice(0, 160));
  }
  return out.slice(0, 5);
}"""


def zoom_text(page: Page, percent: int = 200) -> None:
    """Text-only zoom, as Chromium's font-size setting does it: the default font size grows (so rem, em
    and em-based media queries follow), the viewport does not. Chromium's DevTools protocol sets it."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("Page.setFontSizes", {"fontSizes": {"standard": 16 * percent // 100,
                                                          "fixed": 13 * percent // 100}})
    finally:
        session.detach()
    page.wait_for_function("() => document.fonts.status === 'loaded'")
    measured = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert measured == 16 * percent / 100, f"text zoom did not apply: root font size {measured}px"


def assert_text_not_clipped(page: Page) -> None:
    """No element hides part of its text (overflow hidden/clip with content larger than its box)."""
    __tracebackhide__ = True
    clipped = page.evaluate(_CLIPPED_JS)
    assert not clipped, f"{page.url}: text is clipped in {clipped}"


def assert_text_zooms_without_loss(page: Page, percent: int = 200) -> None:
    __tracebackhide__ = True
    zoom_text(page, percent)
    assert_no_horizontal_scroll(page)
    assert_text_not_clipped(page)
    zoom_text(page, 100)


_FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {ok: false, what: 'body'};
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  const r = el.getBoundingClientRect();
  const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
                   r.top < innerHeight && r.left < innerWidth;
  return {ok: outline && onScreen, outline, onScreen, what: el.outerHTML.slice(0, 160)};
}"""


def assert_focus_visible(page: Page) -> None:
    """Something other than the body has focus, shows a 2 px+ outline, and is on screen."""
    __tracebackhide__ = True
    result = page.evaluate(_FOCUS_JS)
    assert result["ok"], f"focus is not visible: {result}"


def focused_description(page: Page) -> str:
    return page.evaluate("""() => { const el = document.activeElement;
      return el ? (el.getAttribute('aria-label') || el.innerText || el.value || el.id || el.tagName).trim() : ''; }""")


def tab_until(page: Page, matches, *, limit: int = 80, shift: bool = False) -> str:
    """Presses Tab until `matches(description)` is true for the focused element; checks focus is visible
    at every stop. Fails (no keyboard route) after `limit` presses or when focus comes back round to
    where it started without a match."""
    __tracebackhide__ = True
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if shift else "Tab")
        description = focused_description(page)
        if page.evaluate("document.activeElement === document.body"):
            seen.append("<body>")
            continue
        assert_focus_visible(page)
        seen.append(description)
        if matches(description):
            return description
    raise AssertionError(f"no keyboard route to the target in {limit} Tab presses; focus went through {seen}")


_RECORD_FOCUS_JS = """() => {
  window.__focusLog = [];
  document.addEventListener('focusin', e => {
    const el = e.target, s = getComputedStyle(el), r = el.getBoundingClientRect();
    window.__focusLog.push({key: el.tagName + '#' + (el.id || '') + ':' + (el.innerText || el.value || '').slice(0, 30),
      visible: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && r.width > 0 && r.height > 0});
  });
  document.activeElement && document.activeElement.blur();
}"""


def assert_no_keyboard_trap(page: Page, *, limit: int = 150, batch: int = 25) -> None:
    """Tabbing from the top reaches every stop with a visible focus indicator and leaves the page
    (focus back to the browser, or round to the first stop): no element holds focus (WCAG 2.1.2, 2.4.7).
    Focus is logged in the page and read once per batch of Tab presses, to keep the walk quick."""
    __tracebackhide__ = True
    page.evaluate(_RECORD_FOCUS_JS)
    for pressed in range(0, limit, batch):
        for _ in range(batch):
            page.keyboard.press("Tab")
        log, at_body = page.evaluate("() => [window.__focusLog, document.activeElement === document.body]")
        hidden = [entry["key"] for entry in log if not entry["visible"]]
        assert not hidden, f"{page.url}: focus is not visible on {hidden[:3]}"
        keys = [entry["key"] for entry in log]
        if at_body or (len(keys) > 1 and keys[0] in keys[1:]):
            return  # left the page, or wrapped round to the first stop
        if len(keys) >= 4 and len(set(keys[-4:])) == 1:
            raise AssertionError(f"{page.url}: keyboard trap at {keys[-1]}")
    raise AssertionError(f"{page.url}: {limit} Tab presses never left the page; last stops {keys[-5:]}")


def assert_tooltip_meets_1_4_13(page: Page, trigger, tooltip) -> None:
    """Content on hover or focus: dismissible (Escape hides it without moving focus), hoverable (the
    pointer can move onto it and it stays), persistent (stays until hover/focus leaves or Escape),
    and does not cover what comes after the trigger."""
    __tracebackhide__ = True
    trigger.hover()
    tooltip.wait_for(state="visible")
    box = tooltip.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)  # onto the tooltip
    assert tooltip.is_visible(), "the tooltip disappears when the pointer moves onto it (not hoverable)"
    page.keyboard.press("Escape")
    expect(tooltip, "Escape does not dismiss the tooltip").to_be_hidden()
    page.mouse.move(0, 0)
    trigger.focus()
    tooltip.wait_for(state="visible")
    assert page.evaluate("() => document.activeElement") is not None
    page.keyboard.press("Escape")
    expect(tooltip, "Escape does not dismiss the tooltip shown on focus").to_be_hidden()
    assert trigger.evaluate("el => el === document.activeElement"), "Escape moved focus away"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    tooltip.wait_for(state="visible")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # two frames on
    assert tooltip.is_visible(), "the tooltip did not persist while its trigger has focus"
    covered = tooltip.evaluate("""tip => {
      const t = tip.getBoundingClientRect();
      const hits = [];
      for (const el of document.querySelectorAll('main a, main button, main input, main td, main th, main p, main li')) {
        if (tip.contains(el) || el.contains(tip) || el.closest('.tooltip-host') === tip.closest('.tooltip-host')) continue;
        const r = el.getBoundingClientRect();
        if (r.width && r.height && r.left < t.right && r.right > t.left && r.top < t.bottom && r.bottom > t.top) hits.push(el.outerHTML.slice(0, 100));
      }
      return hits.slice(0, 3);
    }""")
    assert not covered, f"the tooltip covers other content: {covered}"
