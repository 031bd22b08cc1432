// Package conf reads fibd's configuration.
//
// fibd takes the router parameters of a commercial DPI gateway's
// fastdpi.conf (the manual's "Router" chapter), so that an existing
// fastdpi.conf loads as it is: the devices (in_dev, out_dev), the router_*
// parameters, the router_device and lag sections, the few bras_*, ajb_udpi_*
// and auth_* parameters the router uses. fibd's own parameters start with
// fibd_. Everything else in the file belongs to the DPI and is collected in
// Config.Ignored; an unknown key starting with router_ or fibd_ is an
// error, being most likely a typo.
//
// The same configuration can be written in TOML (a file named *.toml):
// same keys, same meaning, same checks; see ParseTOML.
//
// Every check is made before anything starts, and every problem is
// reported at once, each as an *Error naming the file, the line and the
// parameter. Params lists the parameters with their documentation and
// whether they are hot (applied on reload) or cold (need a restart), which
// Config.Changed uses to sort the differences between two configurations.
//
// Minimal router configuration, in fastdpi.conf form:
//
//	in_dev=41-00.0
//	out_dev=41-00.1
//	router=1
//	router_netns=bird
//	router_kernel_table=1
//	bras_arp_mac=00:E0:ED:43:84:42
//	bras_arp_ip=188.227.73.40
//	router_device {
//	    device=41-00.1
//	    subnet=10.0.2.0/30
//	}
package conf
