//go:build nopodcgroups

package main

// Kubelets before 1.33 have no resize subresource and other pod container manager signatures:
// they run with kubemark's stub container manager as it is (see podcgroups.go).

import (
	"k8s.io/kubernetes/pkg/kubelet/cadvisor"
	"k8s.io/kubernetes/pkg/kubelet/cm"
)

func withPodCgroups(inner cm.ContainerManager) cm.ContainerManager { return inner }

func withPodStats(inner cadvisor.Interface) cadvisor.Interface { return inner }
