//go:build !nopodcgroups

package main

// The pod-level cgroup of an in-place resize. kubemark's stub container manager answers
// GetPodCgroupConfig and SetPodCgroupConfig with "not implemented", so the real kubelet's
// doPodResizeAction (pkg/kubelet/kuberuntime) gives up before it calls UpdateContainerResources
// and every resize stays PodResizeInProgress with reason Error. A node has no cgroups here: the
// values a real node would write to the pod's cgroup are kept in memory, per pod, and read back,
// so the kubelet orders and actuates a resize as on a real node, and the fake runtime reports the
// containers' new resources (fakecri.Runtime.UpdateContainerResources).
//
// A memory limit that goes down is checked against the pod's memory usage first
// (validateMemoryResizeAction), which the kubelet reads from cAdvisor under the pod's cgroup name;
// kubemark's fake cAdvisor knows no container, so every decrease would stay in progress with
// "missing pod memory usage". Each pod gets a cgroup name here, and the cAdvisor stand-in reports
// a small, constant usage (podMemoryUsage) for it, as a node reports a pod's usage.
//
// Kubelets 1.33 and later resize through this interface; older ones have other signatures and
// no resize subresource, and are built with the tag nopodcgroups (tests/cluster/build-binaries.sh).

import (
	"strings"
	"sync"
	"time"

	cadvisorapi "github.com/google/cadvisor/lib/model"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/cadvisor"
	"k8s.io/kubernetes/pkg/kubelet/cm"
)

const podCgroupPrefix = "/kubepods/pod"

// podMemoryUsage is what every pod uses here: 4 MiB, below any limit a test asks for.
const podMemoryUsage = uint64(4 << 20)

const cpuPeriod = uint64(100000) // the kubelet's default CFS period, in microseconds

// withPodCgroups wraps the stub container manager so that its pod container manager keeps the
// pod-level resource configuration.
func withPodCgroups(inner cm.ContainerManager) cm.ContainerManager {
	return &podCgroupsManager{ContainerManager: inner, pods: &podCgroups{configs: map[types.UID]*cm.ResourceConfig{}}}
}

type podCgroupsManager struct {
	cm.ContainerManager
	pods *podCgroups
}

func (m *podCgroupsManager) NewPodContainerManager() cm.PodContainerManager {
	m.pods.once.Do(func() { m.pods.PodContainerManager = m.ContainerManager.NewPodContainerManager() })
	return m.pods
}

type podCgroups struct {
	cm.PodContainerManager // the stub: every other method
	once                   sync.Once
	mu                     sync.Mutex
	configs                map[types.UID]*cm.ResourceConfig
}

// fromSpec is what a pod's cgroup holds before any resize: the sums of its containers' values
// (sidecars included), as the kubelet writes them when it creates the pod's cgroup.
func fromSpec(pod *v1.Pod) *cm.ResourceConfig {
	var cpuReq, cpuLim, memLim int64
	cpuLimited, memLimited := true, true
	containers := append([]v1.Container(nil), pod.Spec.Containers...)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	for _, c := range containers {
		cpuReq += c.Resources.Requests.Cpu().MilliValue()
		if q, ok := c.Resources.Limits[v1.ResourceCPU]; ok {
			cpuLim += q.MilliValue()
		} else {
			cpuLimited = false
		}
		if q, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
			memLim += q.Value()
		} else {
			memLimited = false
		}
	}
	shares := uint64(cpuReq) * 1024 / 1000
	if shares < 2 {
		shares = 2
	}
	quota := int64(-1)
	if cpuLimited {
		quota = cpuLim * int64(cpuPeriod) / 1000
		if quota < 1000 {
			quota = 1000
		}
	}
	memory := int64(-1) // memory.max "max" reads back as -1 (readCgroupMemoryConfig): no limit reported
	if memLimited {
		memory = memLim
	}
	period := cpuPeriod
	return &cm.ResourceConfig{Memory: &memory, CPUShares: &shares, CPUQuota: &quota, CPUPeriod: &period}
}

// GetPodContainerName names the pod's cgroup (kubemark's stub names none).
func (p *podCgroups) GetPodContainerName(pod *v1.Pod) (cm.CgroupName, string) {
	return cm.CgroupName{"kubepods", "pod" + string(pod.UID)}, podCgroupPrefix + string(pod.UID)
}

// withPodStats wraps the fake cAdvisor so that it reports each pod cgroup's memory usage.
func withPodStats(inner cadvisor.Interface) cadvisor.Interface {
	return &podStats{Interface: inner, started: time.Now()}
}

type podStats struct {
	cadvisor.Interface
	started time.Time
}

func (s *podStats) ContainerInfoV2(name string, options cadvisorapi.RequestOptions) (map[string]cadvisorapi.ContainerInfo, error) {
	if !strings.HasPrefix(name, podCgroupPrefix) {
		return s.Interface.ContainerInfoV2(name, options)
	}
	stats := &cadvisorapi.ContainerStats{Timestamp: time.Now(),
		Memory: &cadvisorapi.MemoryStats{Usage: podMemoryUsage, WorkingSet: podMemoryUsage, RSS: podMemoryUsage}}
	info := cadvisorapi.ContainerInfo{Spec: cadvisorapi.ContainerSpec{CreationTime: s.started, HasMemory: true},
		Stats: []*cadvisorapi.ContainerStats{stats}}
	return map[string]cadvisorapi.ContainerInfo{name: info}, nil
}

func (p *podCgroups) current(pod *v1.Pod) *cm.ResourceConfig {
	if c, ok := p.configs[pod.UID]; ok {
		return c
	}
	c := fromSpec(pod)
	p.configs[pod.UID] = c
	return c
}

func (p *podCgroups) GetPodCgroupConfig(pod *v1.Pod, resource v1.ResourceName) (*cm.ResourceConfig, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.current(pod)
	switch resource {
	case v1.ResourceMemory:
		m := *c.Memory
		return &cm.ResourceConfig{Memory: &m}, nil
	case v1.ResourceCPU:
		s, q, per := *c.CPUShares, *c.CPUQuota, *c.CPUPeriod
		return &cm.ResourceConfig{CPUShares: &s, CPUQuota: &q, CPUPeriod: &per}, nil
	}
	return &cm.ResourceConfig{}, nil
}

func (p *podCgroups) SetPodCgroupConfig(logger klog.Logger, pod *v1.Pod, rc *cm.ResourceConfig) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.current(pod)
	if rc.Memory != nil {
		m := *rc.Memory
		c.Memory = &m
	}
	if rc.CPUShares != nil {
		s := *rc.CPUShares
		c.CPUShares = &s
	}
	if rc.CPUQuota != nil {
		q := *rc.CPUQuota
		c.CPUQuota = &q
	}
	if rc.CPUPeriod != nil {
		per := *rc.CPUPeriod
		c.CPUPeriod = &per
	}
	logger.V(2).Info("inplace-node: pod cgroup config set", "pod", klog.KObj(pod))
	return nil
}
