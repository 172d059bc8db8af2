#!/usr/bin/env bash
# Puts AWS's DynamoDB Local (jar + native libs) in .local/dynamodb-local/, the second target
# of the DynamoDB fidelity tests. The jar ships inside the npm package amplify-dynamodb-simulator;
# installing that package pulls a very large dependency tree, so only its tarball is fetched
# (npm pack) and its emulator/ folder kept. Idempotent: does nothing when the jar is there.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${DYNAMODB_LOCAL_NPM_VERSION:-2.9.30}"
dest=".local/dynamodb-local"
if [ -f "$dest/DynamoDBLocal.jar" ] && [ -d "$dest/DynamoDBLocal_lib" ]; then
  echo "DynamoDB Local already in $dest"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "Fetching amplify-dynamodb-simulator@$version (DynamoDB Local jars, ~56 MB)"
tarball="$(npm pack "amplify-dynamodb-simulator@$version" --pack-destination "$work" --silent | tail -n 1)"
tar -xzf "$work/$tarball" -C "$work" package/emulator
if [ ! -f "$work/package/emulator/DynamoDBLocal.jar" ]; then
  echo "amplify-dynamodb-simulator@$version has no emulator/DynamoDBLocal.jar" >&2
  exit 1
fi
# Move into place only once complete, so an interrupted run is never taken for an install.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/package/emulator" "$dest"
echo "DynamoDB Local installed in $dest"
