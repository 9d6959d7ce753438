/* anchor.c -- exported functions that name every public type of the SDK's
 * headers, so abidw records the whole ABI of the SDK.
 *
 * The SDK has no library: its ABI is the layout of the structs, enums and
 * typedefs a plugin and the host exchange (plugin.h), and those plugins
 * exchange through services (classicv1.h, kademlia.h). A shared object
 * built from this file carries exactly that in its debug information, which
 * check.sh compares against the committed baseline. When a bump adds a
 * public type, add it to a parameter list below in the same commit; a new
 * service header gets an anchor of its own and a line in abicompat.py's
 * FAMILIES.
 */
#include <maybep2p/plugin.h>

MP2P_EXPORT void mp2p_abi_anchor(const struct mp2p_host_api *api,
                                 const struct mp2p_plugin *plugin,
                                 const struct mp2p_frame *frame,
                                 const struct mp2p_conn_event *event,
                                 const struct mp2p_conn_info *info,
                                 mp2p_host *host, const mp2p_config *config,
                                 mp2p_timer *timer, mp2p_watch *watch,
                                 mp2p_reply *reply, mp2p_conn_id conn,
                                 enum mp2p_conn_event_kind kind,
                                 enum mp2p_stop_reason reason,
                                 enum mp2p_log_level level,
                                 enum mp2p_send_flags send_flags,
                                 enum mp2p_watch_events watch_events,
                                 enum mp2p_timer_flags timer_flags);

void mp2p_abi_anchor(const struct mp2p_host_api *api, const struct mp2p_plugin *plugin,
                     const struct mp2p_frame *frame, const struct mp2p_conn_event *event,
                     const struct mp2p_conn_info *info, mp2p_host *host,
                     const mp2p_config *config, mp2p_timer *timer, mp2p_watch *watch,
                     mp2p_reply *reply, mp2p_conn_id conn, enum mp2p_conn_event_kind kind,
                     enum mp2p_stop_reason reason, enum mp2p_log_level level,
                     enum mp2p_send_flags send_flags, enum mp2p_watch_events watch_events,
                     enum mp2p_timer_flags timer_flags)
{
	/* Nothing to do: the signature is the point. */
	(void)api; (void)plugin; (void)frame; (void)event; (void)info; (void)host;
	(void)config; (void)timer; (void)watch; (void)reply; (void)conn; (void)kind;
	(void)reason; (void)level; (void)send_flags; (void)watch_events; (void)timer_flags;
}

/* The types ABI 1.1 added, in an anchor of their own so that the 1.0
 * anchor's signature stays as it was. */
MP2P_EXPORT void mp2p_abi_anchor_1_1(const struct mp2p_limits *limits, enum mp2p_result result,
                                     enum mp2p_origin origin);

void mp2p_abi_anchor_1_1(const struct mp2p_limits *limits, enum mp2p_result result,
                         enum mp2p_origin origin)
{
	(void)limits; (void)result; (void)origin;
}

/* Types ABI 1.1 added for peer identity. */
MP2P_EXPORT void mp2p_abi_anchor_security(enum mp2p_security security);

void mp2p_abi_anchor_security(enum mp2p_security security)
{
	(void)security;
}

/* Service headers are compiled in when present, so the check also runs on
 * a tree that has only plugin.h. */
#if defined(__has_include)
#if __has_include(<maybep2p/classicv1.h>)
#include <maybep2p/classicv1.h>

MP2P_EXPORT void mp2p_abi_anchor_classicv1(const struct mp2p_classicv1_service *service,
                                           const struct mp2p_classicv1_message *message,
                                           enum mp2p_classicv1_kind kind);

void mp2p_abi_anchor_classicv1(const struct mp2p_classicv1_service *service,
                               const struct mp2p_classicv1_message *message,
                               enum mp2p_classicv1_kind kind)
{
	(void)service; (void)message; (void)kind;
}
#endif

#if __has_include(<maybep2p/kademlia.h>)
#include <maybep2p/kademlia.h>

MP2P_EXPORT void mp2p_abi_anchor_kademlia(const struct mp2p_kademlia_service *service,
                                          const struct mp2p_kad_node *node,
                                          enum mp2p_kad_status status,
                                          mp2p_kad_put_done put_done,
                                          mp2p_kad_get_done get_done,
                                          mp2p_kad_nodes_done nodes_done);

void mp2p_abi_anchor_kademlia(const struct mp2p_kademlia_service *service,
                              const struct mp2p_kad_node *node, enum mp2p_kad_status status,
                              mp2p_kad_put_done put_done, mp2p_kad_get_done get_done,
                              mp2p_kad_nodes_done nodes_done)
{
	(void)service; (void)node; (void)status; (void)put_done; (void)get_done; (void)nodes_done;
}
#endif
#endif
