#!/bin/bash
# The layering rule (docs/architecture.md): a file under src/ includes headers
# of its own folder and of the folders its row below allows, nothing else, so
# a wrong-way arrow fails `make check` as a wrong dependency fails a build.
# Headers of src/ are included as "folder/name.h"; generated ones by name.
# Prints one line per violation and exits 1 if there is any.
# Usage: check-layers.sh [SRC_DIR]
set -u
src=${1:-src}

# folder: what its files may include besides their own folder, lowest layer
# first. An entry is a folder, or a single header of one (the guest agent
# includes only the lib headers it links the code of; attest brings the rest
# it needs). A new folder is one more row.
layers='
proto:
lib:     proto
attest:  lib
hv:      proto lib attest
cache:   proto lib attest hv
runtime: proto lib attest hv cache
cli:     proto lib attest hv cache runtime
shim:    proto lib attest hv cache runtime github.com google
kbs:     lib attest
agent:   proto attest lib/error.h lib/fdpass.h lib/cleanup.h lib/clock.h lib/hex.h
'
# header: the only files that may include it, even within its folder.
# QMP and the command line are the QEMU backend's business alone.
private='
hv/qmp.h: hv/qemu.c hv/qmp.c
hv/qemu.h: hv/qemu.c
'
# Generated headers (build/gen), included by bare name. containerd's shim
# protocol is generated under its import paths (github.com/..., google/...),
# which the shim's row above names like folders.
generated='agent.pb-c.h'

declare -A allowed owners
while IFS=: read -r folder deps; do
	[ -n "$folder" ] && allowed[$folder]=$deps
done <<<"$layers"
while IFS=: read -r header files; do
	[ -n "$header" ] && owners[$header]=$files
done <<<"$private"

violations=0
report() {
	echo "$1"
	violations=$((violations + 1))
}

# may_include FOLDER HEADER: the layer table allows it.
may_include() {
	local dep
	for dep in ${allowed[$1]}; do
		[ "$dep" = "${2%%/*}" ] || [ "$dep" = "$2" ] && return 0
	done
	[ "$1" = "${2%%/*}" ]
}

while IFS= read -r -d '' file; do
	rel=${file#"$src"/}
	folder=${rel%%/*}
	if [ -z "${allowed[$folder]+set}" ]; then
		report "$file: folder $folder is not in the layer table of $0"
		continue
	fi
	while IFS=: read -r line header; do
		if [[ $header != */* ]]; then
			[[ " $generated " == *" $header "* ]] ||
				report "$file:$line: includes \"$header\": write it as \"folder/$header\""
		elif [ -n "${owners[$header]+set}" ] && [[ " ${owners[$header]} " != *" $rel "* ]]; then
			report "$file:$line: includes $header, private to${owners[$header]}"
		elif ! may_include "$folder" "$header"; then
			report "$file:$line: includes $header, but $folder may include only its own headers${allowed[$folder]:+ and those of${allowed[$folder]}}"
		fi
	done < <(awk '/^[ \t]*#[ \t]*include[ \t]*"/ { h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h); print FNR ":" h }' "$file")
done < <(find "$src" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

[ "$violations" -eq 0 ]
