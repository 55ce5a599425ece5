#!/bin/bash
# The rootfs image cache ([runtime] image_cache_dir, image_cache_size): an
# unchanged rootfs reuses its image, a changed one never does, and a cache
# that cannot be trusted is bypassed, not used.
source "$(dirname "$0")/lib.sh"
write_config
B="$TEST_TMP/bundle"
LOG="$TEST_TMP/veil.log"
IMAGES="$TEST_TMP/images"
make_bundle "$B" cat /note
echo one >"$B/rootfs/note"
# image_line ID: veil's log line of the container's rootfs image.
image_line() { grep "sandbox $1: rootfs image" "$LOG"; }
entries() { find "$IMAGES" -name '*.erofs' 2>/dev/null | wc -l; }

out=$(veil --log "$LOG" run --bundle "$B" "$(cid first)")
is "$out" one "a first run works"
image_line "$(cid first)" | grep -vq "(cached)"
ok $? "its image was built"
is "$(entries)|$(stat -c %a "$IMAGES")" "1|700" "and cached, in a directory private to veil"

out=$(veil --log "$LOG" run --bundle "$B" "$(cid again)")
is "$out" one "the same rootfs runs again"
image_line "$(cid again)" | grep -q "(cached)"
ok $? "from the cached image"

echo two >"$B/rootfs/note" # as many bytes
out=$(veil --log "$LOG" run --bundle "$B" "$(cid changed)")
is "$out" two "a rewritten file is seen by the next run"
image_line "$(cid changed)" | grep -vq "(cached)"
ok $? "whose image was built anew"
is "$(entries)" 2 "and cached beside the first"

chmod 755 "$IMAGES"
out=$(veil --log "$LOG" run --bundle "$B" "$(cid open)")
is "$out" two "with a cache others can read, the container still runs"
grep -q "rootfs image cache not used: $IMAGES is not a directory private to uid" "$LOG" &&
	image_line "$(cid open)" | grep -vq "(cached)"
ok $? "on an image built for it, with one warning naming the cause"
chmod 700 "$IMAGES"

# Eviction, least recently used first: make "two"'s image the older of the
# two (about 2 MiB each), use it, then add a third in a 5 MiB cache.
mapfile -t by_age < <(ls -t "$IMAGES"/*.erofs)
touch -d '2 hours ago' "${by_age[0]}"
touch -d '1 hour ago' "${by_age[1]}"
sed -i 's/^image_cache_dir = .*/&\nimage_cache_size = 5/' "$CONF"
veil --log "$LOG" run --bundle "$B" "$(cid used)" >/dev/null
make_bundle "$TEST_TMP/other" cat /note
echo three >"$TEST_TMP/other/rootfs/note"
out=$(veil --log "$LOG" run --bundle "$TEST_TMP/other" "$(cid third)")
is "$out" three "another rootfs runs"
[ "$(entries)" = 2 ] && [ -e "${by_age[0]}" ] && [ ! -e "${by_age[1]}" ]
ok $? "and the cache, over its size, dropped the least recently used image, not the oldest"
out=$(veil --log "$LOG" run --bundle "$B" "$(cid kept)")
is "$out" two "the image kept still serves"
image_line "$(cid kept)" | grep -q "(cached)"
ok $? "from the cache"

# A cache on another filesystem than the state directory cannot take
# hard links: the container runs all the same.
OTHER_FS=/dev/shm/veil-it-$$-images
if [ "$(stat -c %d /dev/shm)" != "$(stat -c %d "$STATE" 2>/dev/null || stat -c %d "$TEST_TMP")" ]; then
	sed -i "s|^image_cache_dir = .*|image_cache_dir = \"$OTHER_FS\"|" "$CONF"
	out=$(veil --log "$LOG" run --bundle "$B" "$(cid otherfs)")
	is "$out" two "with the cache on another filesystem, the container runs"
	grep -q "rootfs image cache: .* not kept as $OTHER_FS/.*: Invalid cross-device link" "$LOG"
	ok $? "and the image that could not be kept is named in a warning"
	rm -rf "$OTHER_FS"
	sed -i "s|^image_cache_dir = .*|image_cache_dir = \"$IMAGES\"|" "$CONF"
else
	ok 0 "# SKIP /dev/shm is the state directory's filesystem"
	ok 0 "# SKIP"
fi

sed -i 's/^image_cache_size = .*/image_cache_size = 0/' "$CONF"
out=$(veil --log "$LOG" run --bundle "$B" "$(cid off)")
is "$out|$(entries)" "two|2" "image_cache_size = 0 neither uses nor adds to the cache"
assert_no_leftovers "$(cid off)" "a run without the cache"
