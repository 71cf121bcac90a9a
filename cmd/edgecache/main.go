// Command edgecache deletes Vercel Edge Cache tags from a shell or a pipeline, mirroring
// `vercel cache dangerously-delete`, and serves a spec-validating fake of the endpoint.
//
//	edgecache dangerously-delete --project my-app --tag blog --yes
//	edgecache dangerously-delete --mock --project demo --tag blog --yes   # no account needed
//	edgecache serve --addr 127.0.0.1:8787
//
// Exit codes: 0 every tag purged; 1 an API or network failure, partial ones included; 2 bad
// usage or invalid input, with nothing sent.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"
)

// Exit codes, as documented in the package comment and --help.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is everything the command takes from its process, so that tests can run it whole,
// in-process, with their own streams, environment and working directory.
type env struct {
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	getenv     func(string) string
	dir        string
	isTerminal func(fd any) bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dir, _ := os.Getwd()
	code := run(ctx, os.Args[1:], env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		dir:        dir,
		isTerminal: isTerminal,
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether a stream is an interactive terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// failure marks an error of the API or the network, as opposed to one of usage: exit 1.
// Any other error (bad flags, invalid input, refused confirmation) exits 2, since the
// command checks everything it can before it sends.
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// reported is a failure whose details were already written (text or JSON): exit 1, silently.
var reported = errors.New("failure already reported")

// run executes the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, e env) int {
	root := newRootCommand(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, reported) {
		return exitFailure
	}
	// Library errors carry their own "edgecache: " prefix; the line shows it once.
	msg := strings.TrimPrefix(err.Error(), "edgecache: ")
	if strings.HasPrefix(msg, "unknown command") {
		msg += " (see edgecache --help)"
	}
	fmt.Fprintln(e.stderr, "edgecache: "+msg)
	if _, ok := errors.AsType[*failure](err); ok {
		return exitFailure
	}
	return exitUsage
}
