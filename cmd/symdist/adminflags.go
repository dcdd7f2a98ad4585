// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/config"
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

// controllerFlag adds --controller, the controllers' admin API URLs:
// repeated, or one comma list, or (default) $SYMDIST_CONTROLLERS. With
// more than one, requests go to whichever is primary (adminapi.Client).
// --controllers-from FILE takes the list from a controller config's
// `controllers`.
func controllerFlag(fs *pflag.FlagSet, urls *string, usage string) {
	*urls = defaultControllerURL
	if env := os.Getenv("SYMDIST_CONTROLLERS"); env != "" {
		*urls = env
	}
	fs.Var(&urlList{urls: urls}, "controller", usage+"; repeat it (or give a comma list) for the controller pair: the primary is found by itself (default $SYMDIST_CONTROLLERS or "+defaultControllerURL+")")
	fs.Var(&configURLs{urls: urls}, "controllers-from", "take the controllers' URLs from a controller config's `controllers` list")
}

// urlList is a repeatable --controller: its values joined by commas.
type urlList struct {
	urls *string
	set  bool
}

func (u *urlList) Set(v string) error {
	list := adminapi.SplitURLs(v)
	for _, s := range list {
		if p, err := url.Parse(s); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%q: want an admin API URL such as http://10.0.9.1:9090", s)
		}
	}
	if !u.set {
		*u.urls, u.set = "", true
	}
	all := append(adminapi.SplitURLs(*u.urls), list...)
	*u.urls = strings.Join(adminapi.SplitURLs(strings.Join(all, ",")), ",")
	return nil
}

func (u *urlList) String() string {
	if u.urls == nil {
		return ""
	}
	return *u.urls
}

func (u *urlList) Type() string { return "urls" }

// configURLs is --controllers-from FILE.
type configURLs struct{ urls *string }

func (c *configURLs) Set(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if len(cfg.Controllers) == 0 {
		return fmt.Errorf("%s lists no controllers", path)
	}
	*c.urls = strings.Join(cfg.Controllers, ",")
	return nil
}

func (c *configURLs) String() string { return "" }
func (c *configURLs) Type() string   { return "file" }
