import pytest

from allyproof.monitoring import wcag


@pytest.mark.parametrize(
    ("tags", "criteria", "levels", "labels"),
    [
        (["cat.text-alternatives", "wcag2a", "wcag111", "section508"], ["1.1.1"], ["WCAG 2.0 A"], ["WCAG 2.0 A", "1.1.1"]),
        (["wcag2aa", "wcag143"], ["1.4.3"], ["WCAG 2.0 AA"], ["WCAG 2.0 AA", "1.4.3"]),
        (["wcag21aa", "wcag1412"], ["1.4.12"], ["WCAG 2.1 AA"], ["WCAG 2.1 AA", "1.4.12"]),
        (["best-practice", "cat.semantics"], [], [], ["Best practice"]),
    ],
)
def test_tags_to_people_words(tags, criteria, levels, labels):
    assert wcag.criteria(tags) == criteria
    assert wcag.levels(tags) == levels
    assert wcag.labels(tags) == labels
