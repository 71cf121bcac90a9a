package specsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// APIDir is the generated package's directory at the repository root.
const APIDir = "api"

// CommandError is a failed go command; Output keeps what it printed, which
// the one-line Error leaves out.
type CommandError struct {
	Args   []string
	Dir    string
	Output []byte
	Err    error
}

// Error names the command, its directory and how it failed, on one line.
func (e *CommandError) Error() string {
	return fmt.Sprintf("%s (in %s): %v", strings.Join(e.Args, " "), e.Dir, e.Err)
}

// Unwrap returns the exec error, typically an *exec.ExitError.
func (e *CommandError) Unwrap() error { return e.Err }

// Regenerate runs the repository's go:generate directives (gen.go runs
// oapi-codegen from tools/go.mod) and then builds api/, the two steps that
// prove a new spec is usable. goCmd is the go binary, "go" when empty.
func Regenerate(ctx context.Context, repo, goCmd string) error {
	if goCmd == "" {
		goCmd = "go"
	}
	for _, args := range [][]string{
		{"generate", "./..."},
		{"build", "./" + APIDir + "/"},
	} {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			return &CommandError{Args: append([]string{goCmd}, args...), Dir: repo, Output: out, Err: err}
		}
	}
	return nil
}

// Snapshot is a copy of openapi.yaml and api/ taken before they are
// replaced, so that a failed regeneration leaves the repository as it was.
type Snapshot struct {
	repo  string
	spec  []byte
	files map[string]fileCopy // relative to api/
}

type fileCopy struct {
	data []byte
	mode fs.FileMode
}

// TakeSnapshot copies openapi.yaml and every file under api/ into memory.
func TakeSnapshot(repo string) (*Snapshot, error) {
	spec, err := os.ReadFile(filepath.Join(repo, SpecFile))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s := &Snapshot{repo: repo, spec: spec, files: map[string]fileCopy{}}
	root := filepath.Join(repo, APIDir)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		s.files[rel] = fileCopy{data: data, mode: info.Mode().Perm()}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s/: %w", APIDir, err)
	}
	return s, nil
}

// Restore puts back openapi.yaml and api/ as they were at the snapshot,
// removing files the generator added since.
func (s *Snapshot) Restore() error {
	var errs []error
	if err := os.WriteFile(filepath.Join(s.repo, SpecFile), s.spec, 0o644); err != nil {
		errs = append(errs, err)
	}
	root := filepath.Join(s.repo, APIDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if _, ok := s.files[rel]; !ok {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for rel, f := range s.files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore %s and %s/: %w", SpecFile, APIDir, err)
	}
	return nil
}

// Changed reports whether openapi.yaml or api/ differ from the snapshot.
func (s *Snapshot) Changed() (bool, error) {
	now, err := TakeSnapshot(s.repo)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(now.spec, s.spec) || len(now.files) != len(s.files) {
		return true, nil
	}
	for rel, f := range s.files {
		if g, ok := now.files[rel]; !ok || !bytes.Equal(g.data, f.data) {
			return true, nil
		}
	}
	return false, nil
}
