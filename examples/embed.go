// SPDX-License-Identifier: Apache-2.0

// Package examples holds the example controller configs; Figure3 is
// built into symdist as the lab's default deployment.
package examples

import _ "embed"

// Figure3 is figure3.yaml.
//
//go:embed figure3.yaml
var Figure3 []byte
