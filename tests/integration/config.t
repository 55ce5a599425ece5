#!/bin/bash
# Where veil looks for its configuration: after --config, $VEIL_CONF_FILE and
# the system's paths, the configuration.toml beside the binary, so that a
# built tree runs without VEIL_CONF_FILE (podman through conmon passes no
# environment on). No VM.
source "$(dirname "$0")/lib.sh"
unset VEIL_CONF_FILE

paths=$("$VEIL_BIN" --show-default-config-paths)
is "$(echo "$paths" | tail -n 1)" "$VEIL_BUILD/configuration.toml" \
	"--show-default-config-paths lists the configuration beside the binary last"
is "$(echo "$paths" | head -n 2 | tr '\n' ' ')" \
	"/etc/veil/configuration.toml /usr/share/defaults/veil/configuration.toml " "after the system's, in Kata's order"

# A copy of veil elsewhere finds the configuration beside it, unless the
# system has one, which wins.
mkdir -p "$TEST_TMP/bin"
cp "$VEIL_BIN" "$TEST_TMP/bin/veil"
CONF_PATH="$TEST_TMP/bin/configuration.toml" write_config
want="$TEST_TMP/bin/configuration.toml"
for system in /etc/veil/configuration.toml /usr/share/defaults/veil/configuration.toml; do
	if [ -e "$system" ]; then
		want=$system
		break
	fi
done
got=$(cd / && "$TEST_TMP/bin/veil" env | sed -n 's/^  config = "\(.*\)"$/\1/p')
is "$got" "$want" "without --config or VEIL_CONF_FILE, the first of the default paths that exists is used"

write_config
got=$(cd / && VEIL_CONF_FILE="$CONF" "$TEST_TMP/bin/veil" env | sed -n 's/^  config = "\(.*\)"$/\1/p')
is "$got" "$CONF" "VEIL_CONF_FILE still comes first"
