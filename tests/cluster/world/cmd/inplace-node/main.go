// Command inplace-node is one node of the test world: the real kubelet (kubemark's hollow kubelet:
// sync loop, PLEG, status manager, image manager and, unlike kubemark, the real prober) against
// the fake CRI of package fakecri, whose faults come from a file the tests write.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	cadvisortest "k8s.io/kubernetes/pkg/kubelet/cadvisor/testing"
	"k8s.io/kubernetes/pkg/kubelet/cm"
	"k8s.io/kubernetes/pkg/kubemark"

	"inplace.kubernetes/world/fakecri"
)

func main() {
	klog.InitFlags(nil)
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	name := flag.String("name", "", "node name")
	index := flag.Int("index", 0, "node index (pod IPs are 127.<100+index>.x.y)")
	faults := flag.String("faults", "", "fault file (JSON, see fakecri.Faults); polled")
	rootDir := flag.String("root-dir", "", "directory for the kubelet's root dir and pod logs")
	maxPods := flag.Int("max-pods", 250, "pods the node accepts")
	port := flag.Int("port", 0, "kubelet API port on 127.0.0.1 (0: no server)")
	gates := flag.String("feature-gates", "", "kubelet feature gates (A=true,B=false)")
	flag.Parse()
	if *kubeconfig == "" || *name == "" || *rootDir == "" {
		fmt.Fprintln(os.Stderr, "inplace-node: --kubeconfig, --name and --root-dir are required")
		os.Exit(2)
	}
	if *gates != "" {
		if err := utilfeature.DefaultMutableFeatureGate.Set(*gates); err != nil {
			klog.Fatalf("feature gates: %v", err)
		}
	}
	klog.Infof("inplace-node %s: kubelet %s", *name, version.Get().GitVersion)
	if err := os.MkdirAll(*rootDir, 0o755); err != nil {
		klog.Fatal(err)
	}
	os.Setenv("TMPDIR", *rootDir) // kubemark makes its root and log dirs with os.MkdirTemp("")

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	config.UserAgent = "inplace-node/" + *name
	config.QPS, config.Burst = 50, 100
	client := kubernetes.NewForConfigOrDie(config)
	hb := *config
	hb.Timeout = 10 * time.Second
	hb.QPS = -1
	heartbeat := kubernetes.NewForConfigOrDie(&hb)

	f, c := kubemark.GetHollowKubeletConfig(&kubemark.HollowKubeletOptions{
		NodeName: *name, KubeletPort: *port, KubeletReadOnlyPort: 0, MaxPods: *maxPods,
		NodeLabels: map[string]string{"inplace.kubernetes.io/test-node": "true"},
	})
	c.Address = "127.0.0.1"
	c.EnableServer = *port != 0
	c.HealthzPort = 0
	c.SerializeImagePulls = false
	c.NodeStatusUpdateFrequency.Duration = 5 * time.Second
	c.SyncFrequency.Duration = 10 * time.Second

	source := fakecri.NewFaultSource(*faults, 200*time.Millisecond)
	images := fakecri.NewImageService(source)
	runtime := fakecri.NewRuntime(source, images, byte(100+*index), 0)

	hk := kubemark.NewHollowKubelet(f, c, client, heartbeat, withPodStats(&cadvisortest.Fake{NodeName: *name}),
		images, runtime, withPodCgroups(cm.NewStubContainerManager()))
	// kubemark hands the kubelet a prober that reports every container ready at once; without
	// one, the kubelet builds its real prober (exec probes run through fakecri's ExecSync).
	hk.KubeletDeps.ProbeManager = nil
	hk.Run(context.Background())
}
