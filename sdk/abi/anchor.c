/* anchor.c -- one exported function that names every public type of
 * <maybep2p/plugin.h>, so abidw records the whole ABI of the SDK.
 *
 * The SDK has no library: its ABI is the layout of the structs, enums and
 * typedefs a plugin and the host exchange. A shared object built from this
 * file carries exactly that in its debug information, which check.sh
 * compares against the committed baseline. When a minor bump adds a public
 * type, add it to the parameter list below in the same commit.
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
