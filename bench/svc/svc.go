// Package svc holds the services every benchmarked server runs, so the
// gVisor server and the kernel reference serve exactly the same thing as
// tunstack: echo (7), once (8: echo one read, then close, so the server
// closes first), discard (9), chargen (19, RFC 864: send until the
// client closes) and HTTP (80: GET /bytes/N, N bytes of 'a'..'z' repeated,
// like tunstack's /bytes/N).
package svc

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// pattern is 'a'..'z' repeated; its length is a multiple of 26, so
// consecutive writes of it continue the sequence.
var pattern = []byte(strings.Repeat("abcdefghijklmnopqrstuvwxyz", 10000))

func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/bytes/"), 10, 64)
	if !strings.HasPrefix(r.URL.Path, "/bytes/") || err != nil || n < 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	for n > 0 {
		k := int64(len(pattern))
		if n < k {
			k = n
		}
		if _, err := w.Write(pattern[:k]); err != nil {
			return
		}
		n -= k
	}
}

// Listen opens a listener on a port; each server supplies its own.
type Listen func(port uint16) (net.Listener, error)

// Start listens on every service port and serves connections until the
// listeners fail.
func Start(listen Listen) error {
	handlers := map[uint16]func(net.Conn){
		7: func(c net.Conn) { io.Copy(c, c) },
		8: func(c net.Conn) {
			buf := make([]byte, 16*1024)
			if n, err := c.Read(buf); err == nil {
				c.Write(buf[:n])
			}
		},
		9: func(c net.Conn) { io.Copy(io.Discard, c) },
		19: func(c net.Conn) {
			buf := make([]byte, 256*1024)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		},
	}
	hl, err := listen(80)
	if err != nil {
		return err
	}
	go http.Serve(hl, http.HandlerFunc(serveBytes))
	for port, h := range handlers {
		l, err := listen(port)
		if err != nil {
			return err
		}
		go func(l net.Listener, h func(net.Conn)) {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { h(c); c.Close() }()
			}
		}(l, h)
	}
	return nil
}
