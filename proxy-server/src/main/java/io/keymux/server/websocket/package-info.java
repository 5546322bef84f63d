/**
 * WebSocket sessions through keymux (SPEC.md section 3.10), for example the Realtime API: the
 * upgrade is authenticated, classified and given a key like any request ({@link
 * io.keymux.server.websocket.WebSocketProxy}), refused upgrades fail over, and an accepted session
 * relays frames both ways with back-pressure ({@link io.keymux.server.websocket.WebSocketSession}).
 */
@NullMarked
package io.keymux.server.websocket;

import org.jspecify.annotations.NullMarked;
