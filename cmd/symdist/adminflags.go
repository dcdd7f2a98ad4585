// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"

	"github.com/spf13/pflag"
)

// defaultControllerURL is the admin API of a controller whose config does
// not say otherwise (config: admin.listen).
const defaultControllerURL = "http://127.0.0.1:9090"

// tokenFlag adds --token, the admin API's bearer token, defaulting to
// $SYMDIST_TOKEN.
func tokenFlag(fs *pflag.FlagSet, token *string, usage string) {
	if usage == "" {
		usage = "bearer token (default $SYMDIST_TOKEN)"
	}
	fs.StringVar(token, "token", os.Getenv("SYMDIST_TOKEN"), usage)
}

// controllerFlag adds --controller, a controller's admin API URL.
func controllerFlag(fs *pflag.FlagSet, url *string, usage string) {
	fs.StringVar(url, "controller", defaultControllerURL, usage)
}
