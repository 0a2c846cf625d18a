"""Done and To Do are read by category key, never by a status's name (names are per site and translated)."""

from allyproof.integrations.jira.status_category import DONE, TODO, transition_into

TRANSITIONS = [
    {"id": "11", "to": {"name": "In Arbeit", "statusCategory": {"key": "indeterminate"}}},
    {"id": "31", "to": {"name": "Erledigt", "statusCategory": {"key": "done"}}},
    {"id": "41", "to": {"name": "Closed", "statusCategory": {"key": "done"}}},
    {"id": "51", "to": {"name": "Offen", "statusCategory": {"key": "new"}}},
    {"id": "61"},  # a transition without its target (an old payload): never matched
]


def test_the_first_transition_into_a_category_by_its_key():
    assert transition_into(TRANSITIONS, DONE)["id"] == "31"
    assert transition_into(TRANSITIONS, TODO)["id"] == "51"
    assert transition_into(TRANSITIONS[:1], DONE) is None
