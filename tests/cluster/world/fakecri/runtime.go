package fakecri

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	apitest "k8s.io/cri-api/pkg/apis/testing"
	"k8s.io/klog/v2"
	utilexec "k8s.io/utils/exec"
)

// Runtime is the fake runtime service of k8s.io/cri-api with what a node of the test world needs
// on top: containerd's names (runtime "containerd", 64-hex container IDs, image as first tag,
// imageRef as repository digest), a pod IP of its own per sandbox, trivial commands that exit,
// the faults of the fault file, and resources reported back after UpdateContainerResources.
type Runtime struct {
	*apitest.FakeRuntimeService // methods not overridden here
	faults                      *FaultSource
	images                      *ImageService

	mu      sync.Mutex
	ipBase  [2]byte
	nextIP  int
	serial  int
	userRef  map[string]string   // container ID -> the image reference of the pod spec
	commands map[string][]string // container ID -> command and args
}

var _ internalapi.RuntimeService = &Runtime{}

// NewRuntime returns the runtime of one node; pod IPs are 127.<a>.<b>.x (loopback, so that no
// probe or test ever sends a packet off this machine).
func NewRuntime(faults *FaultSource, images *ImageService, a, b byte) *Runtime {
	r := &Runtime{
		FakeRuntimeService: apitest.NewFakeRuntimeService(), faults: faults, images: images,
		ipBase: [2]byte{a, b}, nextIP: 2, userRef: map[string]string{},
		commands: map[string][]string{},
	}
	// A runtime reports itself and its network ready; the kubelet's sanity check needs both.
	r.FakeRuntimeService.FakeStatus = &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		{Type: runtimeapi.NetworkReady, Status: true},
	}}
	go r.trimCallLog()
	return r
}

// trimCallLog keeps the fake's record of calls (kept for unit tests, grows without bound) short.
func (r *Runtime) trimCallLog() {
	for range time.Tick(10 * time.Second) {
		r.FakeRuntimeService.Lock()
		r.FakeRuntimeService.Called = nil
		r.FakeRuntimeService.Unlock()
		r.images.FakeImageService.Lock()
		r.images.FakeImageService.Called = nil
		r.images.FakeImageService.Unlock()
	}
}

func notFound(err error) error {
	if err != nil && strings.Contains(err.Error(), "not found") {
		return status.Error(codes.NotFound, err.Error())
	}
	return err
}

func (r *Runtime) Version(ctx context.Context, apiVersion string) (*runtimeapi.VersionResponse, error) {
	v, err := r.FakeRuntimeService.Version(ctx, apiVersion)
	if err != nil {
		return nil, err
	}
	v.RuntimeName = "containerd"
	v.RuntimeVersion = "2.1.0-inplace-fake"
	return v, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runtime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	if err := sleepCtx(ctx, r.faults.get().sandboxDelay); err != nil {
		return "", err
	}
	id, err := r.FakeRuntimeService.RunPodSandbox(ctx, config, handler)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	n := r.nextIP
	r.nextIP++
	r.mu.Unlock()
	ip := fmt.Sprintf("127.%d.%d.%d", r.ipBase[0], int(r.ipBase[1])+n/250, n%250+2)
	r.FakeRuntimeService.Lock()
	if sb := r.FakeRuntimeService.Sandboxes[id]; sb != nil {
		sb.Network = &runtimeapi.PodSandboxNetworkStatus{Ip: ip}
	}
	r.FakeRuntimeService.Unlock()
	return id, nil
}

func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	fakeID, err := r.FakeRuntimeService.CreateContainer(ctx, sandboxID, config, sandboxConfig)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.serial++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d", fakeID, r.serial, time.Now().UnixNano())))
	r.mu.Unlock()
	id := hex.EncodeToString(sum[:])
	user := config.GetImage().GetUserSpecifiedImage()
	img, ok := r.images.Lookup(config.GetImage().GetImage())
	if user == "" && ok && len(img.repoTags) > 0 {
		user = img.repoTags[0]
	}
	r.FakeRuntimeService.Lock()
	c := r.FakeRuntimeService.Containers[fakeID]
	delete(r.FakeRuntimeService.Containers, fakeID)
	c.Id = id
	if ok {
		c.Image = &runtimeapi.ImageSpec{Image: img.display()}
		c.ImageRef = img.ref()
	}
	if res := config.GetLinux().GetResources(); res != nil {
		c.Resources = &runtimeapi.ContainerResources{Linux: res}
	}
	r.FakeRuntimeService.Containers[id] = c
	r.FakeRuntimeService.Unlock()
	r.mu.Lock()
	r.userRef[id] = Normalize(user)
	r.commands[id] = append(append([]string(nil), config.GetCommand()...), config.GetArgs()...)
	r.mu.Unlock()
	return id, nil
}

// exitOf says how a container with this command line ends: the trivial commands `true`, `false`,
// `exit N` and `sleep N` (alone or under `sh -c`) end as they would; anything else runs until it
// is stopped.
func exitOf(argv []string) (code int, after time.Duration, exits bool) {
	if len(argv) >= 3 && (argv[0] == "sh" || argv[0] == "/bin/sh") && argv[1] == "-c" {
		argv = strings.Fields(argv[2])
	}
	if len(argv) == 0 {
		return 0, 0, false
	}
	switch strings.TrimPrefix(argv[0], "/bin/") {
	case "true":
		return 0, 0, true
	case "false":
		return 1, 0, true
	case "exit":
		if len(argv) > 1 {
			if n, err := strconv.Atoi(argv[1]); err == nil {
				return n, 0, true
			}
		}
		return 0, 0, true
	case "sleep":
		if len(argv) > 1 {
			if s, err := strconv.ParseFloat(argv[1], 64); err == nil {
				return 0, time.Duration(s * float64(time.Second)), true
			}
		}
	}
	return 0, 0, false
}

func (r *Runtime) ref(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.userRef[id]
}

func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ref := r.ref(id)
	f := r.faults.get()
	if err := sleepCtx(ctx, lookup(f.startDelay, ref)); err != nil {
		return err
	}
	if err := r.FakeRuntimeService.StartContainer(ctx, id); err != nil {
		return notFound(err)
	}
	r.mu.Lock()
	argv := r.commands[id]
	r.mu.Unlock()
	code, after, exits := exitOf(argv)
	if r.faults.get().crash[ref] {
		code, after, exits = 1, r.faults.get().crashAfter, true
	}
	if exits {
		go r.exit(id, code, after)
	}
	return nil
}

func (r *Runtime) exit(id string, code int, after time.Duration) {
	time.Sleep(after)
	r.FakeRuntimeService.Lock()
	defer r.FakeRuntimeService.Unlock()
	c := r.FakeRuntimeService.Containers[id]
	if c == nil || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return
	}
	c.State = runtimeapi.ContainerState_CONTAINER_EXITED
	c.ExitCode = int32(code)
	c.FinishedAt = time.Now().UnixNano()
	c.Reason = "Completed"
	if code != 0 {
		c.Reason = "Error"
	}
	klog.V(2).Infof("fakecri: container %s exited with %d", id[:12], code)
}

func (r *Runtime) StopContainer(ctx context.Context, id string, timeout int64) error {
	r.FakeRuntimeService.Lock()
	c := r.FakeRuntimeService.Containers[id]
	exited := c != nil && c.State == runtimeapi.ContainerState_CONTAINER_EXITED
	r.FakeRuntimeService.Unlock()
	if exited {
		return nil // keep the exit code it ended with
	}
	err := r.FakeRuntimeService.StopContainer(ctx, id, timeout)
	if err == nil {
		r.FakeRuntimeService.Lock()
		if c := r.FakeRuntimeService.Containers[id]; c != nil {
			c.Reason = "Completed" // a stopped container ends with 0 here, as a process handling SIGTERM
		}
		r.FakeRuntimeService.Unlock()
	}
	return notFound(err)
}

func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	delete(r.userRef, id)
	delete(r.commands, id)
	r.mu.Unlock()
	return r.FakeRuntimeService.RemoveContainer(ctx, id)
}

func (r *Runtime) ContainerStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	resp, err := r.FakeRuntimeService.ContainerStatus(ctx, id, verbose)
	return resp, notFound(err)
}

func (r *Runtime) PodSandboxStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	resp, err := r.FakeRuntimeService.PodSandboxStatus(ctx, id, verbose)
	return resp, notFound(err)
}

// UpdateContainerResources records the resources so that ContainerStatus reports them, as a
// runtime does after an in-place resize.
func (r *Runtime) UpdateContainerResources(ctx context.Context, id string, res *runtimeapi.ContainerResources) error {
	if err := r.FakeRuntimeService.UpdateContainerResources(ctx, id, res); err != nil {
		return err
	}
	r.FakeRuntimeService.Lock()
	defer r.FakeRuntimeService.Unlock()
	c := r.FakeRuntimeService.Containers[id]
	if c == nil {
		return status.Errorf(codes.NotFound, "container %q not found", id)
	}
	if res.GetLinux() != nil {
		c.LinuxResources = res.GetLinux()
		c.Resources = &runtimeapi.ContainerResources{Linux: res.GetLinux()}
	}
	return nil
}

// ExecSync runs a probe: it fails (exit 1) in a container whose image is listed unready or crash,
// or for the command `false`; any other command succeeds.
func (r *Runtime) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, []byte, error) {
	if _, _, err := r.FakeRuntimeService.ExecSync(ctx, id, cmd, timeout); err != nil {
		return nil, nil, err
	}
	code, _, _ := exitOf(cmd)
	if f := r.faults.get(); f.unready[r.ref(id)] || f.crash[r.ref(id)] {
		code = 1 // listed unready, or about to crash: a process failing at start-up answers no probe
	}
	if code != 0 {
		return nil, nil, utilexec.CodeExitError{
			Err: fmt.Errorf("command %q exited with %d", strings.Join(cmd, " "), code), Code: code}
	}
	return nil, nil, nil
}
