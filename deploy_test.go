package highway_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/citypopy/highway/internal/balancer"
	"github.com/citypopy/highway/internal/config"
)

// What ships beside the binary: the Kubernetes manifests, compose.yaml and
// the Dockerfile. No Docker engine or cluster runs here, so each is
// checked as far as it can be without one: every manifest decodes
// strictly into the API's own types, every config it carries is one
// Highway accepts, and the Dockerfile's build command builds a static
// binary.

// typed is the API type of each kind the manifests use.
var typed = map[string]func() any{
	"apps/v1 Deployment":                     func() any { return &appsv1.Deployment{} },
	"v1 Service":                             func() any { return &corev1.Service{} },
	"v1 ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"policy/v1 PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2 HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	files, _ := filepath.Glob("deploy/kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/kubernetes")
	}
	kinds := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var head struct{ APIVersion, Kind string }
			if err := sigsyaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			mk := typed[head.APIVersion+" "+head.Kind]
			if mk == nil {
				t.Errorf("%s #%d: %s %s is not a kind this test knows", f, i, head.APIVersion, head.Kind)
				continue
			}
			obj := mk()
			if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s #%d: %v", f, i, err)
			}
			kinds[head.Kind] = obj
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"} {
		if kinds[k] == nil {
			t.Errorf("no %s", k)
		}
	}
	d, _ := kinds["Deployment"].(*appsv1.Deployment)
	if d == nil {
		return
	}
	c := d.Spec.Template.Spec.Containers[0]
	switch {
	case c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz":
		t.Error("the readiness probe is not /readyz")
	case c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz":
		t.Error("the liveness probe is not /healthz")
	case c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil:
		t.Error("no preStop pause")
	}
	grace := int64(0)
	if p := d.Spec.Template.Spec.TerminationGracePeriodSeconds; p != nil {
		grace = *p
	}
	if pre := c.Lifecycle.PreStop.Sleep.Seconds; grace < pre+30 {
		t.Errorf("terminationGracePeriodSeconds %d leaves less than the 30s drain after a %ds preStop", grace, pre)
	}
	// The config it mounts is one Highway accepts, at the path it gives.
	cm := kinds["ConfigMap"].(*corev1.ConfigMap)
	if i := slices.Index(c.Args, "-config"); i < 0 || c.Args[i+1] != c.VolumeMounts[0].MountPath+"/highway.yaml" {
		t.Errorf("args %v do not read the mounted config at %s", c.Args, c.VolumeMounts[0].MountPath)
	}
	if _, err := config.Parse("configmap highway.yaml", []byte(cm.Data["highway.yaml"])); err != nil {
		t.Errorf("the ConfigMap's config: %v", err)
	}
}

// composeFile is the part of the Compose spec compose.yaml uses; an
// unknown field is an error.
type composeFile struct {
	XHighway any                       `yaml:"x-highway"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Build           string            `yaml:"build"`
	Image           string            `yaml:"image"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	Ports           []string          `yaml:"ports"`
	DependsOn       []string          `yaml:"depends_on"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	Restart         string            `yaml:"restart"`
}

func TestComposeMirrorsTheEndToEndTest(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	nginx, err := os.ReadFile("deploy/compose/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(balancer.Proxy, "\n") {
		if !strings.Contains(string(nginx), line) {
			t.Errorf("deploy/compose/nginx.conf lacks %q, which the end-to-end test's balancer has", line)
		}
	}
	replicas := 0
	for name, s := range c.Services {
		if !strings.HasPrefix(name, "highway-") {
			continue
		}
		replicas++
		if !strings.Contains(string(nginx), "server "+name+":8080") {
			t.Errorf("nginx.conf does not balance over %s", name)
		}
		if i := slices.Index(s.Command, "-instance"); i < 0 || s.Command[i+1] != name {
			t.Errorf("%s does not name itself: %v", name, s.Command)
		}
		for _, v := range s.Volumes {
			host, inside, _ := strings.Cut(strings.TrimSuffix(v, ":ro"), ":")
			if inside != s.Environment["HIGHWAY_CONFIG"] {
				continue
			}
			cfg, err := config.Load(host)
			if err != nil {
				t.Errorf("%s's config: %v", name, err)
			} else if cfg.Redis.Addr != "redis:6379" {
				t.Errorf("%s's config shares no Redis", name)
			}
		}
	}
	if replicas != 3 || c.Services["redis"].Image == "" || c.Services["nginx"].Image == "" {
		t.Errorf("compose.yaml runs %d replicas, redis %q, nginx %q; want 3 behind nginx with redis", replicas,
			c.Services["redis"].Image, c.Services["nginx"].Image)
	}
}

func TestTheDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(text, -1)
	if len(froms) < 2 {
		t.Fatalf("%d stages, want a build stage and a small runtime one", len(froms))
	}
	final := text[strings.LastIndex(text, "\nFROM "):]
	if !strings.Contains(froms[len(froms)-1][1], "distroless/static") || !regexp.MustCompile(`(?m)^USER nonroot`).MatchString(final) {
		t.Errorf("the runtime stage is %s, user %v; want a static base and a non-root user", froms[len(froms)-1][1],
			regexp.MustCompile(`(?m)^USER .*`).FindString(final))
	}
	if !strings.Contains(final, "HIGHWAY_ADDR=0.0.0.0:8080") {
		t.Error("the image does not serve on 0.0.0.0:8080")
	}
	// Run the build stage's go build, as docker build would.
	run := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(text)
	if run == nil {
		t.Fatal("no RUN ... go build in the Dockerfile")
	}
	out := filepath.Join(t.TempDir(), "highway")
	script := strings.ReplaceAll(run[1], "/out/highway", out)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test", "COMMIT=abc", "DATE=today")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked: it would not run on a static base")
		}
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "highway v0.0.0-test (commit abc, built today") {
		t.Errorf("version: %q, %v", v, err)
	}
}
