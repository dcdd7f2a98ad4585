// SPDX-License-Identifier: Apache-2.0
// port_num_t: a port number the controller writes (port_role's key,
// send_to_tm's and forward's port, packet_out's egress_port).
//
// On Tofino it is a P4Runtime translated type, as fabric-tna's
// FabricPortId_t (its p4src/shared/define.p4): the P4Info gives these
// fields 32 bits, their type_name port_num_t, and type_info the URI
// tna/PortId_t, so Stratum run with --experimental_enable_p4runtime_translation
// takes the chassis config's singleton port ids and writes the SDK's device
// ports (docs/hardware.md, "Port numbers on Tofino"). The bmv2 build keeps
// the plain 9 bits: its P4Info and JSON do not change.
//
// PORT_BITS turns a port_num_t into v1model's bit<9> (egress_spec);
// AS_PORT a bit<9> (ingress_port) into a port_num_t. On bmv2 both are the
// value itself, so the compiled JSON is the same byte for byte (its
// source_info quotes the lines that use them).
#ifndef SYMDIST_PORT_P4
#define SYMDIST_PORT_P4

#ifdef __TARGET_TOFINO__
@p4runtime_translation("tna/PortId_t", 32)
type bit<9> port_num_t;
#define PORT_BITS(p) ((bit<9>)(p))
#define AS_PORT(p) ((port_num_t)(p))
#else
typedef bit<9> port_num_t;
#define PORT_BITS(p) p
#define AS_PORT(p) p
#endif

#endif
