// Package jssdk serves Herald's TypeScript SDK (src/, the npm package
// @herald/client) and the demo page (demo/) from the binary: herald serve
// shows the page at /demo/ on the admin listener. The SDK's TypeScript is
// turned into JavaScript modules once, in the process, by esbuild's Go API
// (each file on its own: the sources use type-only imports, so nothing but
// the types is erased), so a clone with only Go installed serves it; npm
// and tsc build the same sources for the npm package (README.md).
package jssdk

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"
)

//go:embed src/*.ts demo/*
var files embed.FS

var compiled struct {
	once sync.Once
	js   map[string][]byte // "index.js" → the module
	err  error
}

// Modules returns the SDK's modules as JavaScript, by file name
// ("index.js", "subscriber.js", …), transpiled on first use.
func Modules() (map[string][]byte, error) {
	compiled.once.Do(func() {
		compiled.js = map[string][]byte{}
		entries, err := fs.ReadDir(files, "src")
		if err != nil {
			compiled.err = err
			return
		}
		for _, e := range entries {
			src, err := fs.ReadFile(files, "src/"+e.Name())
			if err != nil {
				compiled.err = err
				return
			}
			out := api.Transform(string(src), api.TransformOptions{
				Loader: api.LoaderTS, Format: api.FormatESModule, Target: api.ES2022, Sourcefile: e.Name(),
			})
			if len(out.Errors) > 0 {
				compiled.err = fmt.Errorf("jssdk: %s: %s", e.Name(), out.Errors[0].Text)
				return
			}
			compiled.js[strings.TrimSuffix(e.Name(), ".ts")+".js"] = out.Code
		}
	})
	return compiled.js, compiled.err
}

// Handler serves the demo page under prefix ("/demo/"): the page and its
// script from demo/, the SDK's modules under sdk/, and config.json, which
// tells the page where the client listener is (wsURL answers it for the
// request's host).
func Handler(prefix string, wsURL func(r *http.Request) string) http.Handler {
	return http.StripPrefix(strings.TrimSuffix(prefix, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch {
		case name == "" || name == "index.html":
			serveFile(w, "demo/index.html", "text/html; charset=utf-8")
		case name == "config.json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprintf(w, "{\"ws\": %q}\n", wsURL(r))
		case strings.HasPrefix(name, "sdk/"):
			js, err := Modules()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			code, ok := js[strings.TrimPrefix(name, "sdk/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Header().Set("Access-Control-Allow-Origin", "*") // public code: pages elsewhere may import it
			_, _ = w.Write(code)
		case strings.HasSuffix(name, ".js"):
			serveFile(w, "demo/"+name, "text/javascript; charset=utf-8")
		case strings.HasSuffix(name, ".css"):
			serveFile(w, "demo/"+name, "text/css; charset=utf-8")
		default:
			http.NotFound(w, r)
		}
	}))
}

func serveFile(w http.ResponseWriter, name, contentType string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b)
}
