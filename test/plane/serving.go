/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package plane

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	netv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
	"knative.dev/pkg/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	servinginformers "knative.dev/serving/pkg/client/informers/externalversions"
	cfgresources "knative.dev/serving/pkg/reconciler/configuration/resources"
	sksresources "knative.dev/serving/pkg/reconciler/serverlessservice/resources"
	svcresources "knative.dev/serving/pkg/reconciler/service/resources"
)

// servingController does what Knative Serving's controllers would for the
// plane: Service → Configuration → Revision (named <config>-0000N), the
// revision's private Service and its Endpoints (as the endpoints controller
// writes them for ready pods), and the status of each object.
type servingController struct {
	kube    kubernetes.Interface
	serving servingclient.Interface
	pods    *podRunner
	hosts   *hostsFile
	logf    func(string, ...any)

	queue    chan types.NamespacedName
	roll     chan struct{}
	cancel   context.CancelFunc
	shutdown func()
	done     sync.WaitGroup

	mu     sync.Mutex
	routes map[string]types.NamespacedName // "<svc>.<ns>" -> revision
	errs   map[types.NamespacedName]error
}

func startServingController(kube kubernetes.Interface, sc servingclient.Interface, pods *podRunner, hosts *hostsFile, logf func(string, ...any)) (*servingController, error) {
	c := &servingController{
		kube: kube, serving: sc, pods: pods, hosts: hosts, logf: logf,
		queue:  make(chan types.NamespacedName, 256),
		roll:   make(chan struct{}, 1),
		routes: map[string]types.NamespacedName{},
		errs:   map[types.NamespacedName]error{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel

	sf := servinginformers.NewSharedInformerFactory(sc, 0)
	svcInformer := sf.Serving().V1().Services().Informer()
	enqueue := func(obj any) {
		if o, ok := obj.(metav1.Object); ok {
			select {
			case c.queue <- types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}:
			case <-ctx.Done():
			}
		}
	}
	if _, err := svcInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		// Status updates (ours) do not change the generation: only spec
		// changes are reconciled again.
		UpdateFunc: func(o, n any) {
			if o.(metav1.Object).GetGeneration() != n.(metav1.Object).GetGeneration() {
				enqueue(n)
			}
		},
	}); err != nil {
		cancel()
		return nil, err
	}
	kf := kubeinformers.NewSharedInformerFactoryWithOptions(kube, 0, kubeinformers.WithNamespace(ServingNamespace))
	cmInformer := kf.Core().V1().ConfigMaps().Informer()
	pokeRoll := func() {
		select {
		case c.roll <- struct{}{}:
		default:
		}
	}
	if _, err := cmInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			oc, nc := o.(*corev1.ConfigMap), n.(*corev1.ConfigMap)
			if !equality.Semantic.DeepEqual(oc.Data, nc.Data) {
				pokeRoll()
			}
		},
	}); err != nil {
		cancel()
		return nil, err
	}
	sf.Start(ctx.Done())
	kf.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, 30*time.Second)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), svcInformer.HasSynced, cmInformer.HasSynced) {
		cancel()
		return nil, fmt.Errorf("serving controller: informers did not sync within 30s")
	}
	c.done.Add(2)
	go func() {
		defer c.done.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case key := <-c.queue:
				err := c.reconcile(ctx, key)
				c.mu.Lock()
				prev := c.errs[key]
				c.errs[key] = err
				c.mu.Unlock()
				if err != nil && ctx.Err() == nil {
					if prev == nil || prev.Error() != err.Error() {
						c.logf("serving: service %s: %v (retrying every second)", key, err)
					}
					time.AfterFunc(time.Second, func() {
						select {
						case c.queue <- key:
						case <-ctx.Done():
						}
					})
				}
			}
		}
	}()
	go func() {
		defer c.done.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.roll:
				c.pods.roll()
			}
		}
	}()
	c.shutdown = func() { sf.Shutdown(); kf.Shutdown() }
	return c, nil
}

func (c *servingController) stop() {
	c.cancel()
	c.done.Wait()
	if c.shutdown != nil {
		c.shutdown()
	}
}

// route returns the revision serving host "<svc>.<ns>".
func (c *servingController) route(svcDotNs string) (types.NamespacedName, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.routes[svcDotNs]
	return k, ok
}

func (c *servingController) lastError(key types.NamespacedName) (error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, ok := c.errs[key]
	return err, ok
}

func (c *servingController) reconcile(ctx context.Context, key types.NamespacedName) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	svcs := c.serving.ServingV1().Services(key.Namespace)
	svc, err := svcs.Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, cctx, err := loadRevisionConfig(ctx, c.kube)
	if err != nil {
		return err
	}
	// What the serving webhook would do on admission.
	svc.SetDefaults(cctx)
	// Warnings (e.g. insecure securityContext defaults) are not errors.
	if verr := svc.Validate(cctx).Filter(apis.ErrorLevel); verr != nil {
		return fmt.Errorf("invalid Service: %w", verr)
	}

	cfgs := c.serving.ServingV1().Configurations(key.Namespace)
	want := svcresources.MakeConfiguration(svc)
	cfg, err := cfgs.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if cfg, err = cfgs.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create Configuration: %w", err)
		}
	case err != nil:
		return err
	case !equality.Semantic.DeepEqual(cfg.Spec, want.Spec):
		cfg.Spec = want.Spec
		if cfg, err = cfgs.Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update Configuration: %w", err)
		}
	}

	revs := c.serving.ServingV1().Revisions(key.Namespace)
	revName := kmeta.ChildName(cfg.Name, fmt.Sprintf("-%05d", cfg.Generation))
	rev, err := revs.Get(ctx, revName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r := cfgresources.MakeRevision(cctx, cfg, time.Now())
		if rev, err = revs.Create(ctx, r, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create Revision: %w", err)
		}
		c.logf("serving: created revision %s/%s", rev.Namespace, rev.Name)
	} else if err != nil {
		return err
	}
	if err := c.ensurePrivateService(ctx, rev); err != nil {
		return err
	}
	revKey := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	if err := c.updateRevisionStatus(ctx, revKey, len(c.pods.pods(revKey))); err != nil {
		return err
	}

	// Cluster-local names of the service resolve to the ingress.
	if err := c.hosts.set(ServiceIP.String(), serviceNames(svc.Name, svc.Namespace)...); err != nil {
		return err
	}
	c.mu.Lock()
	c.routes[svc.Name+"."+svc.Namespace] = revKey
	c.mu.Unlock()

	cfg.Status.InitializeConditions()
	cfg.Status.SetLatestCreatedRevisionName(rev.Name)
	cfg.Status.SetLatestReadyRevisionName(rev.Name)
	cfg.Status.ObservedGeneration = cfg.Generation
	if cfg, err = cfgs.UpdateStatus(ctx, cfg, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update Configuration status: %w", err)
	}

	url := &apis.URL{Scheme: "http", Host: svc.Name + "." + svc.Namespace + ".svc.cluster.local"}
	var rs v1.RouteStatus
	rs.InitializeConditions()
	rs.MarkTrafficAssigned()
	rs.MarkTLSNotEnabled("the local plane serves plain HTTP")
	var is netv1alpha1.IngressStatus
	is.InitializeConditions()
	is.MarkNetworkConfigured()
	is.MarkLoadBalancerReady(nil, nil)
	rs.PropagateIngressStatus(is)
	rs.URL = url
	rs.Address = &duckv1.Addressable{URL: url}
	rs.Traffic = []v1.TrafficTarget{{RevisionName: rev.Name, Percent: ptr.Int64(100), LatestRevision: ptr.Bool(true)}}

	svc.Status.InitializeConditions()
	svc.Status.PropagateConfigurationStatus(&cfg.Status)
	svc.Status.PropagateRouteStatus(&rs)
	svc.Status.ObservedGeneration = svc.Generation
	if _, err := svcs.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update Service status: %w", err)
	}
	return nil
}

// ensurePrivateService creates <rev>-private as Knative's SKS reconciler
// does (its own resources code), owned by the revision.
func (c *servingController) ensurePrivateService(ctx context.Context, rev *v1.Revision) error {
	sks := &netv1alpha1.ServerlessService{
		ObjectMeta: metav1.ObjectMeta{
			Name:      rev.Name,
			Namespace: rev.Namespace,
			Labels:    kmeta.UnionMaps(rev.Labels, revisionLabels(rev)),
		},
		Spec: netv1alpha1.ServerlessServiceSpec{ProtocolType: rev.GetProtocol(), Mode: netv1alpha1.SKSOperationModeProxy},
	}
	svc := sksresources.MakePrivateService(sks, map[string]string{serving.RevisionUID: string(rev.UID)})
	svc.OwnerReferences = []metav1.OwnerReference{*kmeta.NewControllerRef(rev)}
	_, err := c.kube.CoreV1().Services(rev.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create private Service %s: %w", svc.Name, err)
	}
	return nil
}

func revisionLabels(rev *v1.Revision) map[string]string {
	return map[string]string{serving.RevisionLabelKey: rev.Name, serving.RevisionUID: string(rev.UID)}
}

// podsChanged writes the Endpoints of the revision's private Service for
// the ready pods and the revision's status. It is the pod runner's onChange.
func (c *servingController) podsChanged(ctx context.Context, key types.NamespacedName, ready []*pod) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.writeEndpoints(ctx, key, ready); err != nil {
		c.logf("serving: endpoints of %s: %v", key, err)
	}
	if err := c.updateRevisionStatus(ctx, key, len(ready)); err != nil {
		c.logf("serving: revision status of %s: %v", key, err)
	}
}

func (c *servingController) writeEndpoints(ctx context.Context, key types.NamespacedName, ready []*pod) error {
	name := key.Name + "-private"
	svc, err := c.kube.CoreV1().Services(key.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get private Service %s: %w", name, err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: key.Namespace, Labels: svc.Labels,
	}}
	if len(ready) > 0 {
		var subset corev1.EndpointSubset
		for _, p := range ready {
			subset.Addresses = append(subset.Addresses, corev1.EndpointAddress{
				IP:        p.IP,
				NodeName:  ptr.String("kntrace-local"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name},
			})
		}
		// The endpoints controller resolves each Service port's target
		// port against the pod's container ports.
		for _, sp := range svc.Spec.Ports {
			port, ok := resolveTargetPort(sp.TargetPort, ready[0].ports)
			if !ok {
				continue
			}
			subset.Ports = append(subset.Ports, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		ep.Subsets = []corev1.EndpointSubset{subset}
	}
	eps := c.kube.CoreV1().Endpoints(key.Namespace)
	cur, err := eps.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = eps.Create(ctx, ep, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cur.Labels, cur.Subsets = ep.Labels, ep.Subsets
	_, err = eps.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func resolveTargetPort(tp intstr.IntOrString, ports []corev1.ContainerPort) (int32, bool) {
	if tp.Type == intstr.Int {
		return tp.IntVal, tp.IntVal != 0
	}
	for _, p := range ports {
		if p.Name == tp.StrVal {
			return p.ContainerPort, true
		}
	}
	if n, err := strconv.Atoi(tp.StrVal); err == nil {
		return int32(n), true
	}
	return 0, false
}

// updateRevisionStatus marks the revision Ready, Active when it has pods.
func (c *servingController) updateRevisionStatus(ctx context.Context, key types.NamespacedName, replicas int) error {
	revs := c.serving.ServingV1().Revisions(key.Namespace)
	for range 5 {
		rev, err := revs.Get(ctx, key.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rev.Status.InitializeConditions()
		rev.Status.MarkResourcesAvailableTrue()
		rev.Status.MarkContainerHealthyTrue()
		if replicas > 0 {
			rev.Status.MarkActiveTrue()
		} else {
			rev.Status.MarkActiveFalse("NoTraffic", "The target is not receiving traffic.")
		}
		rev.Status.ObservedGeneration = rev.Generation
		rev.Status.ActualReplicas = ptr.Int32(int32(replicas))
		rev.Status.DesiredReplicas = ptr.Int32(int32(replicas))
		if _, err = revs.UpdateStatus(ctx, rev, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("revision %s status: conflicts", key)
}
