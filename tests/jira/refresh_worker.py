"""A separate process that asks for an access token (run by test_tokens.py's two-process test).

argv: connection id, go-file. Waits for the go-file so both processes call at the same moment,
then prints the access token it got.
"""

import os
import sys
import time

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "allyproof.settings"
django.setup()

from allyproof.integrations.jira.connection import tokens  # noqa: E402

connection_id, go_file = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 30
while not os.path.exists(go_file) and time.monotonic() < deadline:
    time.sleep(0.005)
print(tokens.access_token(connection_id), flush=True)
