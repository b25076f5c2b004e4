// Package fakecri is the container runtime of the test world's nodes: the fake CRI services of
// k8s.io/cri-api, made to answer the way containerd does (image names, digests, container IDs, a
// pod IP per sandbox, exit codes of trivial commands, resources after a resize) and to fail where
// the tests say so. Everything the real kubelet then reports (ErrImagePull, ImagePullBackOff,
// CrashLoopBackOff, readiness from its own prober, ...) is the kubelet's own doing.
package fakecri

import (
	"encoding/json"
	"os"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
)

// Faults is the fault file the tests write (JSON, replaced atomically; every node polls it).
// Image references are compared after normalisation (nginx:1 == docker.io/library/nginx:1).
type Faults struct {
	// PullFail: pulling these references fails (the kubelet reports ErrImagePull, then
	// ImagePullBackOff).
	PullFail []string `json:"pull_fail"`
	// PullDelay: seconds a pull of the reference takes; paid only when the node does not have the
	// image yet, as the kubelet's image manager decides. "*" applies to every reference.
	PullDelay map[string]float64 `json:"pull_delay"`
	// Crash: a container of these images exits with code 1 CrashAfter seconds after it started;
	// its exec probes fail meanwhile (a process failing at start-up answers no probe).
	Crash      []string `json:"crash"`
	CrashAfter float64  `json:"crash_after"`
	// StartDelay: seconds StartContainer takes for the reference ("*": every reference).
	StartDelay map[string]float64 `json:"start_delay"`
	// Unready: exec probes in containers of these images fail (exit code 1).
	Unready []string `json:"unready"`
	// SandboxDelay: seconds RunPodSandbox takes, so only a new pod pays it, never a container
	// restarted in place (network and volume set-up of a real node).
	SandboxDelay float64 `json:"sandbox_delay"`
	// SameImage: groups of references that are tags of one image (one image ID, one digest).
	SameImage [][]string `json:"same_image"`
}

type compiled struct {
	pullFail, crash, unready map[string]bool
	pullDelay, startDelay    map[string]float64
	crashAfter, sandboxDelay time.Duration
	alias                    map[string]string
}

func set(refs []string) map[string]bool {
	out := map[string]bool{}
	for _, r := range refs {
		out[Normalize(r)] = true
	}
	return out
}

func delays(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if k == "*" {
			out[k] = v
		} else {
			out[Normalize(k)] = v
		}
	}
	return out
}

func compile(f Faults) *compiled {
	c := &compiled{
		pullFail: set(f.PullFail), crash: set(f.Crash), unready: set(f.Unready),
		pullDelay: delays(f.PullDelay), startDelay: delays(f.StartDelay),
		crashAfter:   time.Duration(f.CrashAfter * float64(time.Second)),
		sandboxDelay: time.Duration(f.SandboxDelay * float64(time.Second)),
		alias:        map[string]string{},
	}
	if c.crashAfter <= 0 {
		c.crashAfter = 300 * time.Millisecond
	}
	for _, group := range f.SameImage {
		if len(group) == 0 {
			continue
		}
		first := Normalize(group[0])
		for _, r := range group {
			c.alias[Normalize(r)] = first
		}
	}
	return c
}

func lookup(m map[string]float64, ref string) time.Duration {
	v, ok := m[ref]
	if !ok {
		v = m["*"]
	}
	return time.Duration(v * float64(time.Second))
}

// FaultSource holds the current faults, reloaded from a file when it changes.
type FaultSource struct {
	path    string
	current atomic.Pointer[compiled]
	mtime   time.Time
	size    int64
}

// NewFaultSource reads path (a missing file means no faults) and polls it every interval.
func NewFaultSource(path string, interval time.Duration) *FaultSource {
	s := &FaultSource{path: path}
	s.current.Store(compile(Faults{}))
	s.reload()
	if path != "" {
		go func() {
			for range time.Tick(interval) {
				s.reload()
			}
		}()
	}
	return s
}

func (s *FaultSource) reload() {
	if s.path == "" {
		return
	}
	st, err := os.Stat(s.path)
	if err != nil {
		if !s.mtime.IsZero() {
			s.mtime, s.size = time.Time{}, 0
			s.current.Store(compile(Faults{}))
			klog.Infof("fakecri: fault file %s removed: no faults", s.path)
		}
		return
	}
	if st.ModTime().Equal(s.mtime) && st.Size() == s.size {
		return
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return
	}
	var f Faults
	if err := json.Unmarshal(data, &f); err != nil {
		klog.Errorf("fakecri: fault file %s: %v (keeping the previous faults)", s.path, err)
		return
	}
	s.mtime, s.size = st.ModTime(), st.Size()
	s.current.Store(compile(f))
	klog.Infof("fakecri: faults now %s", string(data))
}

func (s *FaultSource) get() *compiled { return s.current.Load() }
