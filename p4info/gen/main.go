// SPDX-License-Identifier: Apache-2.0

// Command gen writes names_generated.go: a Go constant for the name of every P4Info
// entity, so that a renamed P4 entity breaks the Go build instead of failing
// at run time. Run by `go generate ./p4info` (make p4).
package main

import (
	"flag"
	"log"
	"os"

	"github.com/symdist/symdist/p4info"
)

func main() {
	in := flag.String("in", "symdist.p4info.txtpb", "P4Info in text format")
	out := flag.String("out", "names_generated.go", "Go file to write")
	flag.Parse()
	text, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	s, err := p4info.Parse(text)
	if err != nil {
		log.Fatal(err)
	}
	src, err := p4info.GenerateNames(s.Info, *in)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
