// Command edgecache invalidates or deletes Vercel Edge Cache entries by tag or by source image
// from a shell or a pipeline, mirroring `vercel cache`, and serves a spec-validating fake of the
// Edge Cache API.
//
//	edgecache invalidate --project my-app --tag blog --yes
//	edgecache dangerously-delete --project my-app --srcimg /images/hero.png --yes
//	edgecache invalidate --mock --project demo --tag blog --yes   # no account needed
//	edgecache serve --addr 127.0.0.1:8787
//
// Exit codes: 0 every tag or image purged, or the confirmation answered no (nothing sent); 1 an
// API or network failure, partial ones included; 2 bad usage or invalid input, with nothing
// sent; 130 or 143 when SIGINT or SIGTERM ended it.
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

// Exit codes, as documented in the package comment and --help. A signal adds its number to
// exitSignal, as shells do: 130 for SIGINT, 143 for SIGTERM.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitSignal  = 128
)

// env is everything the command takes from its process, so that tests can run it whole,
// in-process, with their own streams, environment and working directory.
type env struct {
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	getenv     func(string) string
	dir        string
	isTerminal func(stream any) bool
	// width is a terminal stream's width in columns, 0 when unknown.
	width func(stream any) int
}

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		// A second signal gets the default action and ends the process at once, should
		// anything still be winding down.
		signal.Stop(signals)
		cancel(interrupted{sig: sig})
	}()
	dir, _ := os.Getwd()
	code := run(ctx, os.Args[1:], env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		dir:        dir,
		isTerminal: isTerminal,
		width:      terminalWidth,
	})
	os.Exit(code)
}

// isTerminal reports whether a stream is an interactive terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth is a terminal stream's width in columns, 0 when it is not a terminal.
func terminalWidth(stream any) int {
	f, ok := stream.(*os.File)
	if !ok {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// interrupted is the cause of the command's context when a signal ended it.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

// exitCode is 128 plus the signal's number, as a shell reports a process a signal killed.
func (i interrupted) exitCode() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return exitSignal + int(s)
	}
	return exitSignal + int(syscall.SIGINT)
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// failure marks an error of the API or the network, as opposed to one of usage: exit 1.
// Any other error (bad flags, invalid input, refused confirmation) exits 2, since the
// command checks everything it can before it sends.
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// errReported is a failure whose details were already written (text or JSON): exit 1, silently.
var errReported = errors.New("failure already reported")

// run executes the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, e env) int {
	if e.width == nil {
		e.width = func(any) int { return 0 }
	}
	root := newRootCommand(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if !errors.Is(err, errReported) {
		fmt.Fprintln(e.stderr, "edgecache: "+userMessage(err))
	}
	if sig, ok := errors.AsType[interrupted](context.Cause(ctx)); ok {
		return sig.exitCode()
	}
	if errors.Is(err, errReported) {
		return exitFailure
	}
	if _, ok := errors.AsType[*failure](err); ok {
		return exitFailure
	}
	return exitUsage
}

// userMessage is err for a command user: library errors carry their own "edgecache: " prefix,
// which the line shows once.
func userMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "edgecache: ")
	if strings.HasPrefix(msg, "unknown command") {
		msg += " (see edgecache --help)"
	}
	return msg
}
