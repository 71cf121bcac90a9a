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
		return link, fmt.Errorf("%s is not valid JSON (%w); run `vercel link` again or pass --project", path, err)
	}
	return link, nil
}

// scope is the project and team a purge acts on.
type scope struct {
	project, teamID, slug string
}

// team describes the team for the prompt.
func (s scope) team() string {
	return firstOf(s.teamID, s.slug, "(none: the token's own account)")
}

// resolveScope finds the project and team as the Vercel CLI does: flags first; then
// VERCEL_PROJECT_ID and VERCEL_ORG_ID, which only count together; then the linked project's
// .vercel/project.json. An org id is sent as teamId only when it names a team: a personal
// account's org id is a user id, which the API does not take. --scope (or --slug) names the
// team by slug, and then no org id is added from the environment or the link.
func resolveScope(e env, projectFlag, teamIDFlag, slugFlag string) (scope, error) {
	envProject, envOrg := e.getenv("VERCEL_PROJECT_ID"), e.getenv("VERCEL_ORG_ID")
	var source projectLink
	switch {
	case envProject != "" && envOrg != "":
		source = projectLink{ProjectID: envProject, OrgID: envOrg}
	case envOrg != "":
		return scope{}, errors.New("VERCEL_ORG_ID is set but VERCEL_PROJECT_ID is not: set both, as for vercel, or neither to use .vercel/project.json")
	case envProject != "":
		return scope{}, errors.New("VERCEL_PROJECT_ID is set but VERCEL_ORG_ID is not: set both, as for vercel, or neither to use .vercel/project.json")
	default:
		link, err := readProjectLink(e.dir)
		if err != nil {
			return scope{}, err
		}
		source = link
	}
	s := scope{project: firstOf(projectFlag, source.ProjectID), teamID: teamIDFlag, slug: slugFlag}
	if s.project == "" {
		return scope{}, errors.New("no project: pass --project, set VERCEL_PROJECT_ID and VERCEL_ORG_ID, or run inside a linked project (.vercel/project.json)")
	}
	if s.teamID == "" && s.slug == "" && strings.HasPrefix(source.OrgID, "team_") {
		s.teamID = source.OrgID
	}
	return s, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
