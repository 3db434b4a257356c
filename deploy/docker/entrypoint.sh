#!/bin/sh
# The image's entry point: `aidevops <command>`, with the operator's bearer token read from a
# mounted secret file when the environment does not set it (compose and ECS mount secrets as
# files; the settings read AIDEVOPS_AUTH_BEARER_TOKEN from the environment).
set -eu
token_file=${AUTH_TOKEN_FILE:-/run/secrets/aidevops_token}
if [ -z "${AIDEVOPS_AUTH_BEARER_TOKEN:-}" ] && [ -r "$token_file" ]; then
  AIDEVOPS_AUTH_BEARER_TOKEN=$(cat "$token_file")
  export AIDEVOPS_AUTH_BEARER_TOKEN
fi
exec aidevops "$@"
