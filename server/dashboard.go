package server

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// The dashboard (/dashboard/ on the admin listener) is a page of plain
// HTML, CSS and JavaScript embedded in the binary: it reads the admin API
// with the operator's token or an account's own credential.
//
//go:embed dashboard/*
var dashboardFiles embed.FS

var dashboardTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, "/dashboard")), "/")
	if name == "" {
		name = "index.html"
	}
	b, err := fs.ReadFile(dashboardFiles, "dashboard/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", dashboardTypes[path.Ext(name)])
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	_, _ = w.Write(b)
}
