#!/bin/bash
# Writes seed corpora for fuzz_snp_report and fuzz_tdx_quote from the
# attestation fixtures (tests/data/attest, see SOURCES.md there).
# Usage: attest-seeds.sh OUTDIR  -> OUTDIR/fuzz_snp_report/, OUTDIR/fuzz_tdx_quote/
set -eu
out=${1:?usage: attest-seeds.sh OUTDIR}
data=$(cd "$(dirname "$0")/../data/attest" && pwd)
mkdir -p "$out/fuzz_snp_report" "$out/fuzz_tdx_quote"
# A report followed by its VCEK, as the target reads them; and each alone.
python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' \
	"$data/snp_report_milan.hex" >"$out/fuzz_snp_report/milan-report"
cat "$out/fuzz_snp_report/milan-report" "$data/snp_vcek_milan.der" >"$out/fuzz_snp_report/milan-report-vcek"
cp "$data/tdx_quote_spr_e4.dat" "$out/fuzz_tdx_quote/spr-e4"
head -c 4935 "$data/tdx_quote_spr_e4.dat" >"$out/fuzz_tdx_quote/spr-e4-exact"
