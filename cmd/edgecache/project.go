package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// projectLink is .vercel/project.json, written by `vercel link`.
type projectLink struct {
	ProjectID string `json:"projectId"`
	OrgID     string `json:"orgId"`
}

// teamID returns the link's org id when it names a team. A personal account's org id is a
// user id, which the API does not take as teamId.
func (l projectLink) teamID() string {
	if strings.HasPrefix(l.OrgID, "team_") {
		return l.OrgID
	}
	return ""
}

// readProjectLink reads dir/.vercel/project.json; a missing file is an empty link.
func readProjectLink(dir string) (projectLink, error) {
	var link projectLink
	path := filepath.Join(dir, ".vercel", "project.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return link, nil
	}
	if err != nil {
		return link, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &link); err != nil {
		return link, fmt.Errorf("%s is not valid JSON (%v); run `vercel link` again or pass --project", path, err)
	}
	return link, nil
}
