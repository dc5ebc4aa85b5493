#!/usr/bin/env bash
# Build the Go go-plugin interop fixtures offline, in GOPATH mode, from Debian's packages:
#   tests/go/build.sh OUTDIR   ->  OUTDIR/go-plugin  OUTDIR/go-host
# Needs: apt-get install -y golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev
# The Go module proxy is never used (GO111MODULE=off, GOPROXY=off).
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v go >/dev/null 2>&1; then
	echo "build.sh: 'go' not found; install it with:" >&2
	echo "  apt-get install -y golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev" >&2
	exit 3
fi
gocode=/usr/share/gocode
for pkg in github.com/hashicorp/go-plugin google.golang.org/grpc github.com/golang/protobuf/proto; do
	if [ ! -d "$gocode/src/$pkg" ]; then
		echo "build.sh: Go package $pkg not found under $gocode/src; install:" >&2
		echo "  apt-get install -y golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev" >&2
		exit 3
	fi
done

mkdir -p "$1"
out="$(cd "$1" && pwd)"

gopath="$(mktemp -d "${TMPDIR:-/tmp}/cm-gopath.XXXXXX")"
trap 'rm -rf "$gopath"' EXIT
src="$gopath/src/cmgofixtures"
mkdir -p "$src"
for d in tokenstore plugin host; do
	mkdir -p "$src/$d"
	cp "$here/$d"/*.go "$src/$d/"
done

unset GOFLAGS GOROOT GOBIN
export GOPATH="$gopath:$gocode"
export GO111MODULE=off
export GOPROXY=off
export GOSUMDB=off
export GOFLAGS=
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOCACHE="${CM_GO_CACHE:-$out/.gocache}"
mkdir -p "$GOCACHE"

cd "$gopath"
go build -o "$out/go-plugin" cmgofixtures/plugin
go build -o "$out/go-host" cmgofixtures/host
echo "built $out/go-plugin $out/go-host ($(go version))"
