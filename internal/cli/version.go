package cli

import (
	"runtime"
	"runtime/debug"
)

// Set by make release with -ldflags "-X ...": the tag, the commit and the
// build's UTC time. A binary built otherwise reads them from its build
// information (go install ...@vX.Y.Z has the version; a build in a git
// checkout has the commit and its time).
var (
	buildVersion string
	buildCommit  string
	buildDate    string
)

// versionInfo is what highway version prints.
type versionInfo struct{ Version, Commit, Date, Go string }

func readVersion() versionInfo {
	v := versionInfo{Version: buildVersion, Commit: buildCommit, Date: buildDate, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value[:min(12, len(s.Value))]
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && buildCommit == "" && v.Commit != "" {
			v.Commit += "-dirty"
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	for _, f := range []*string{&v.Commit, &v.Date} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return v
}
