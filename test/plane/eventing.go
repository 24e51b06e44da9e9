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
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	duckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/eventing/pkg/apis/eventing"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	eventingclient "knative.dev/eventing/pkg/client/clientset/versioned"
	eventinginformers "knative.dev/eventing/pkg/client/informers/externalversions"
	"knative.dev/pkg/apis"
	pkgduckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/proc"
)

// Binary names of Knative Eventing's data plane (see test/binaries).
const (
	BrokerIngressBinary = "broker-ingress"
	BrokerFilterBinary  = "broker-filter"
	IMCDispatcherBinary = "imc-dispatcher"
)

// Cluster-local names of eventing's data plane, routed by the plane's
// ingress on ServiceIP:80 like Kubernetes Services.
const (
	brokerIngressHost = "broker-ingress.knative-eventing.svc.cluster.local"
	brokerFilterHost  = "broker-filter.knative-eventing.svc.cluster.local"
)

// eventingPlane runs Knative Eventing's data plane (broker ingress and
// filter on the host, the in-memory channel dispatcher in its own network
// namespace, since its ports 8080/8443 are fixed) and fills in the status
// of Brokers, Triggers and InMemoryChannels as eventing's controllers would.
type eventingPlane struct {
	p         *Plane
	client    eventingclient.Interface
	procs     []*proc.Process
	netns     *netns
	apiFwd    *forwarder
	dispHosts *hostsFile

	cancel   context.CancelFunc
	shutdown func()
	kick     chan struct{}
	wg       sync.WaitGroup
}

func startEventing(ctx context.Context, p *Plane) (e *eventingPlane, err error) {
	e = &eventingPlane{p: p, kick: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	if e.client, err = eventingclient.NewForConfig(p.API.Config); err != nil {
		return e, err
	}
	bins := map[string]string{}
	for _, name := range []string{BrokerIngressBinary, BrokerFilterBinary, IMCDispatcherBinary} {
		if bins[name], err = binaries.Path(name); err != nil {
			return e, err
		}
	}
	ports, err := proc.FreePorts(6)
	if err != nil {
		return e, err
	}
	ingressPort, filterPort := ports[0], ports[2]
	common := []string{pathEnv, "HOME=/root", "KUBECONFIG=" + p.API.Kubeconfig, "SYSTEM_NAMESPACE=" + EventingNamespace}
	start := func(name, bin string, wrapper []string, env ...string) (*proc.Process, error) {
		w := append(append([]string(nil), wrapper...), append([]string{"env", "-i"}, env...)...)
		pr, err := proc.Start(name, bin, nil, proc.WithWrapper(w...), proc.WithLogDir(p.Dir), proc.WithGrace(3*time.Second))
		if err == nil {
			e.procs = append(e.procs, pr)
		}
		return pr, err
	}
	hostWrap := mountWrapper(p.hosts.path)
	ing, err := start("broker-ingress", bins[BrokerIngressBinary], hostWrap, append(common,
		"POD_NAME=broker-ingress-local", "CONTAINER_NAME=ingress",
		"INGRESS_PORT="+strconv.Itoa(ingressPort), "INGRESS_PORT_HTTPS="+strconv.Itoa(ports[1]),
		"PROFILING_PORT="+strconv.Itoa(ports[4]))...)
	if err != nil {
		return e, err
	}
	filt, err := start("broker-filter", bins[BrokerFilterBinary], hostWrap, append(common,
		"POD_NAME=broker-filter-local", "CONTAINER_NAME=filter", "NAMESPACE="+EventingNamespace,
		"FILTER_PORT="+strconv.Itoa(filterPort), "FILTER_PORT_HTTPS="+strconv.Itoa(ports[3]),
		"PROFILING_PORT="+strconv.Itoa(ports[5]))...)
	if err != nil {
		return e, err
	}

	// The dispatcher reaches the API server as kubernetes.default.svc (a
	// name in the server's certificate) at ServiceIP, through a forwarder.
	slot, err := p.pods.slots.get()
	if err != nil {
		return e, err
	}
	if e.netns, err = createNetns(netnsPrefix+"imc", slot); err != nil {
		p.pods.slots.put(slot)
		return e, err
	}
	apiPort := portOf(p.API.URL[len("https://"):])
	if e.apiFwd, err = startForwarder(net.JoinHostPort(ServiceIP.String(), apiPort), "127.0.0.1:"+apiPort); err != nil {
		return e, err
	}
	if e.dispHosts, err = newHostsFile(filepath.Join(p.Dir, "hosts-imc-dispatcher")); err != nil {
		return e, err
	}
	if err := e.dispHosts.set(ServiceIP.String(), "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes.default", brokerFilterHost, brokerIngressHost); err != nil {
		return e, err
	}
	kc := filepath.Join(p.Dir, "kubeconfig-imc-dispatcher")
	if err := writeKubeconfig(kc, "https://kubernetes.default.svc:"+apiPort, p.API.Config.CAData, p.API.Config.BearerToken); err != nil {
		return e, err
	}
	dispWrap := append(e.netns.wrapper(), mountWrapper(e.dispHosts.path)...)
	disp, err := start("imc-dispatcher", bins[IMCDispatcherBinary], dispWrap, pathEnv, "HOME=/root", "KUBECONFIG="+kc,
		"SYSTEM_NAMESPACE="+EventingNamespace, "POD_NAME=imc-dispatcher-local", "CONTAINER_NAME=dispatcher",
		"MAX_IDLE_CONNS=1000", "MAX_IDLE_CONNS_PER_HOST=100")
	if err != nil {
		return e, err
	}
	for _, w := range []struct {
		pr   *proc.Process
		addr string
	}{{ing, "127.0.0.1:" + strconv.Itoa(ingressPort)}, {filt, "127.0.0.1:" + strconv.Itoa(filterPort)}, {disp, net.JoinHostPort(e.netns.PodIP.String(), "8080")}} {
		if err := w.pr.WaitFor(p.cfg.readyTO, "listening on "+w.addr, proc.TCPReady(w.addr)); err != nil {
			return e, err
		}
	}
	p.ingress.addBackend(brokerIngressHost, "127.0.0.1:"+strconv.Itoa(ingressPort))
	p.ingress.addBackend(brokerFilterHost, "127.0.0.1:"+strconv.Itoa(filterPort))
	if err := p.hosts.set(ServiceIP.String(), brokerIngressHost, brokerFilterHost); err != nil {
		return e, err
	}
	return e, e.startController()
}

func writeKubeconfig(path, server string, ca []byte, token string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kntrace-local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["kntrace-local"] = &clientcmdapi.Context{Cluster: "kntrace-local", AuthInfo: "admin"}
	kc.CurrentContext = "kntrace-local"
	return clientcmd.WriteToFile(*kc, path)
}

// startController watches Brokers and Triggers and reconciles all of them
// on any change (a local plane holds a handful).
func (e *eventingPlane) startController() error {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	f := eventinginformers.NewSharedInformerFactory(e.client, 0)
	kick := func(any) {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: kick, UpdateFunc: func(_, n any) { kick(n) }, DeleteFunc: kick}
	bi := f.Eventing().V1().Brokers().Informer()
	ti := f.Eventing().V1().Triggers().Informer()
	for _, inf := range []cache.SharedIndexInformer{bi, ti} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	f.Start(ctx.Done())
	e.shutdown = f.Shutdown
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.kick:
			case <-t.C:
			}
			if err := e.reconcile(ctx); err != nil && ctx.Err() == nil {
				e.p.logf("eventing: %v", err)
			}
		}
	}()
	return nil
}

// markReady marks every condition of a resource's set True, so that its
// Ready condition is True, as its reconciler would once everything works.
func markReady(cs apis.ConditionSet, s apis.ConditionsAccessor) {
	m := cs.Manage(s)
	m.InitializeConditions()
	for _, c := range s.GetConditions() {
		if c.Type != apis.ConditionReady {
			m.MarkTrue(c.Type)
		}
	}
	m.MarkTrue(apis.ConditionReady)
}

func (e *eventingPlane) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	brokers, err := e.client.EventingV1().Brokers("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	triggers, err := e.client.EventingV1().Triggers("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range brokers.Items {
		b := &brokers.Items[i]
		var subs []duckv1.SubscriberSpec
		for j := range triggers.Items {
			t := &triggers.Items[j]
			if t.Namespace != b.Namespace || t.Spec.Broker != b.Name {
				continue
			}
			subs = append(subs, duckv1.SubscriberSpec{
				UID:           t.UID,
				Generation:    t.Generation,
				SubscriberURI: &apis.URL{Scheme: "http", Host: brokerFilterHost, Path: fmt.Sprintf("/triggers/%s/%s/%s", t.Namespace, t.Name, t.UID)},
			})
		}
		imc, err := e.ensureChannel(ctx, b, subs)
		if err != nil {
			return fmt.Errorf("broker %s/%s: channel: %w", b.Namespace, b.Name, err)
		}
		if err := e.updateBroker(ctx, b, imc); err != nil {
			return fmt.Errorf("broker %s/%s: %w", b.Namespace, b.Name, err)
		}
	}
	for i := range triggers.Items {
		if err := e.updateTrigger(ctx, &triggers.Items[i]); err != nil {
			return fmt.Errorf("trigger %s/%s: %w", triggers.Items[i].Namespace, triggers.Items[i].Name, err)
		}
	}
	return nil
}

// ensureChannel is the MT channel-based broker's trigger channel:
// <broker>-kne-trigger, with one subscriber per Trigger (the filter's URL),
// its address and a Ready status at the current generation.
func (e *eventingPlane) ensureChannel(ctx context.Context, b *eventingv1.Broker, subs []duckv1.SubscriberSpec) (*messagingv1.InMemoryChannel, error) {
	imcs := e.client.MessagingV1().InMemoryChannels(b.Namespace)
	name := kmeta.ChildName(b.Name, "-kne-trigger")
	imc, err := imcs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		imc, err = imcs.Create(ctx, &messagingv1.InMemoryChannel{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: b.Namespace,
				Labels:          map[string]string{eventing.BrokerLabelKey: b.Name, "eventing.knative.dev/brokerEverything": "true"},
				OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(b)},
			},
			Spec: messagingv1.InMemoryChannelSpec{ChannelableSpec: duckv1.ChannelableSpec{SubscribableSpec: duckv1.SubscribableSpec{Subscribers: subs}}},
		}, metav1.CreateOptions{})
	} else if err == nil && !subscribersEqual(imc.Spec.Subscribers, subs) {
		imc.Spec.Subscribers = subs
		imc, err = imcs.Update(ctx, imc, metav1.UpdateOptions{})
	}
	if err != nil {
		return nil, err
	}
	host := name + "-kn-channel." + b.Namespace + ".svc.cluster.local"
	e.p.ingress.addBackend(host, net.JoinHostPort(e.netns.PodIP.String(), "8080"))
	if err := e.p.hosts.set(ServiceIP.String(), host); err != nil {
		return nil, err
	}
	if imc.IsReady() && imc.Status.Address != nil && len(imc.Status.Subscribers) == len(subs) {
		return imc, nil
	}
	imc.Status.SetAddress(&pkgduckv1.Addressable{URL: &apis.URL{Scheme: "http", Host: host}})
	markReady(imc.GetConditionSet(), &imc.Status)
	imc.Status.ObservedGeneration = imc.Generation
	imc.Status.Subscribers = nil
	for _, s := range subs {
		imc.Status.Subscribers = append(imc.Status.Subscribers, duckv1.SubscriberStatus{UID: s.UID, ObservedGeneration: s.Generation, Ready: "True"})
	}
	return imcs.UpdateStatus(ctx, imc, metav1.UpdateOptions{})
}

func subscribersEqual(a, b []duckv1.SubscriberSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UID != b[i].UID || a[i].Generation != b[i].Generation || a[i].SubscriberURI.String() != b[i].SubscriberURI.String() {
			return false
		}
	}
	return true
}

func (e *eventingPlane) updateBroker(ctx context.Context, b *eventingv1.Broker, imc *messagingv1.InMemoryChannel) error {
	url := &apis.URL{Scheme: "http", Host: brokerIngressHost, Path: "/" + b.Namespace + "/" + b.Name}
	chAddr := imc.Status.Address.URL.String()
	if b.IsReady() && b.Status.Address != nil && b.Status.Address.URL.String() == url.String() && b.Status.Annotations[eventing.BrokerChannelAddressStatusAnnotationKey] == chAddr {
		return nil
	}
	b.Status.SetAddress(&pkgduckv1.Addressable{URL: url})
	if b.Status.Annotations == nil {
		b.Status.Annotations = map[string]string{}
	}
	b.Status.Annotations[eventing.BrokerChannelAddressStatusAnnotationKey] = chAddr
	b.Status.Annotations["knative.dev/channelAPIVersion"] = "messaging.knative.dev/v1"
	b.Status.Annotations["knative.dev/channelKind"] = "InMemoryChannel"
	b.Status.Annotations["knative.dev/channelName"] = imc.Name
	markReady(b.GetConditionSet(), &b.Status)
	b.Status.ObservedGeneration = b.Generation
	_, err := e.client.EventingV1().Brokers(b.Namespace).UpdateStatus(ctx, b, metav1.UpdateOptions{})
	return err
}

// updateTrigger resolves the subscriber (a Knative Service's cluster-local
// URL, or a URI) into status.subscriberUri and marks the Trigger Ready.
func (e *eventingPlane) updateTrigger(ctx context.Context, t *eventingv1.Trigger) error {
	var uri *apis.URL
	switch ref := t.Spec.Subscriber.Ref; {
	case ref != nil:
		ns := ref.Namespace
		if ns == "" {
			ns = t.Namespace
		}
		uri = &apis.URL{Scheme: "http", Host: ref.Name + "." + ns + ".svc.cluster.local"}
		if t.Spec.Subscriber.URI != nil {
			uri.Path = t.Spec.Subscriber.URI.Path
		}
	case t.Spec.Subscriber.URI != nil:
		uri = t.Spec.Subscriber.URI
	default:
		return fmt.Errorf("no subscriber ref or uri")
	}
	if t.Status.IsReady() && t.Status.SubscriberURI.String() == uri.String() {
		return nil
	}
	t.Status.SubscriberURI = uri
	markReady(t.GetConditionSet(), &t.Status)
	t.Status.ObservedGeneration = t.Generation
	_, err := e.client.EventingV1().Triggers(t.Namespace).UpdateStatus(ctx, t, metav1.UpdateOptions{})
	return err
}

func (e *eventingPlane) stop() {
	if e == nil {
		return
	}
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	if e.shutdown != nil {
		e.shutdown()
	}
	for _, pr := range e.procs {
		pr.Stop()
	}
	e.apiFwd.stop()
	if e.netns != nil {
		e.netns.delete()
		e.p.pods.slots.put(e.netns.Slot)
	}
}

// WaitEventingReady waits until every Broker and Trigger in ns is Ready
// and each Broker's channel has a subscriber per Trigger.
func (p *Plane) WaitEventingReady(ctx context.Context, ns string, timeout time.Duration) error {
	if p.eventing == nil {
		return fmt.Errorf("eventing is not running: start the plane with plane.WithEventing()")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := p.eventing.client
	var last string
	for {
		last = ""
		bs, err := c.EventingV1().Brokers(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
		}
		ts, err := c.EventingV1().Triggers(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
		}
		if last == "" {
			for _, b := range bs.Items {
				if !b.IsReady() {
					last = "broker " + b.Name + " not ready"
				}
			}
			for _, t := range ts.Items {
				if !t.Status.IsReady() || t.Status.SubscriberURI == nil {
					last = "trigger " + t.Name + " not ready"
				}
			}
			// Ready in the API is not ready in the ingress: it must have
			// seen the Broker too. Probe each with an event no Trigger takes.
			for _, b := range bs.Items {
				if last == "" {
					if err := p.probeBroker(ctx, b.Namespace, b.Name); err != nil {
						last = "broker " + b.Name + ": " + err.Error()
					}
				}
			}
			if last == "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("eventing in %s not ready within %s: %s", ns, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ProbeEventType is the type of the readiness probe events the plane sends
// to each Broker; no Trigger should filter on it.
const ProbeEventType = "dev.kntrace.plane.readiness-probe"

// probeBroker posts a binary-mode CloudEvent to the broker ingress and wants
// 202 Accepted.
func (p *Plane) probeBroker(ctx context.Context, ns, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.IngressURL+"/"+ns+"/"+name, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Host = brokerIngressHost
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", "kntrace-plane-probe-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	req.Header.Set("Ce-Source", "kntrace.dev/plane")
	req.Header.Set("Ce-Type", ProbeEventType)
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ingress answered %s to a probe event", resp.Status)
	}
	return nil
}
