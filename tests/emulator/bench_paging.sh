#!/bin/sh
# Page through every MDE alert of the first tenant of a running emulator
# with curl, following @odata.nextLink, and print pages/records/bytes/time.
#
#   python3 tests/emulator/defender_emulator.py --dir /tmp/emu \
#       --tenants 1 --records 200000 --streams mde-alerts --no-rate-limit &
#   tests/emulator/bench_paging.sh /tmp/emu [top] [expand]
#
# top defaults to 10000; pass "expand" as 3rd argument for $expand=evidence.
# Needs curl, awk and python3 (python only reads emulator.json).
set -eu
dir=${1:?usage: bench_paging.sh EMULATOR_DIR [top] [expand]}
top=${2:-10000}
expand=${3:-}
json="$dir/emulator.json"
field() { python3 -c "import json,sys; d=json.load(open('$json')); print($1)"; }
url=$(field "d['url']")
ca=$(field "d['ca_file']")
tid=$(field "d['tenants'][0]['tenant_id']")
cid=$(field "d['tenants'][0]['client_id']")
secret_file=$(field "d['tenants'][0]['secret_file']")

token=$(curl -sS --cacert "$ca" "$url/$tid/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$cid" \
    --data-urlencode "client_secret@$secret_file" \
    --data-urlencode "scope=https://api.securitycenter.microsoft.com/.default" |
    sed 's/.*"access_token":"\([^"]*\)".*/\1/')

next="$url/api/alerts?\$top=$top"
[ "$expand" = expand ] && next="$next&\$expand=evidence"
page=$(mktemp)
trap 'rm -f "$page"' EXIT
pages=0 records=0 bytes=0 curl_s=0
start=$(date +%s.%N)
while [ -n "$next" ]; do
    t=$(curl -sS --fail --cacert "$ca" -H "Authorization: Bearer $token" \
        -o "$page" -w '%{time_total}' "$next")
    curl_s=$(awk -v a="$curl_s" -v b="$t" 'BEGIN { print a + b }')
    pages=$((pages + 1))
    bytes=$((bytes + $(wc -c < "$page")))
    records=$((records + $(grep -o '"alertCreationTime"' "$page" | wc -l)))
    next=$(tail -c 400 "$page" | grep -o '"@odata.nextLink":"[^"]*"' |
        sed 's/"@odata.nextLink":"\(.*\)"/\1/' || true)
done
end=$(date +%s.%N)
echo "pages=$pages records=$records bytes=$bytes" \
    "curl_seconds=$curl_s" \
    "wall_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
