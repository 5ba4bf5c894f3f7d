/**
 * The browser bundle's entry: defines the global TeamPassWebSocket class, as TeamPass's own
 * teampass-websocket.js does, so TeamPass's pages use this client unchanged.
 */
import { TeamPassServerError, TeamPassWebSocket } from './teampass-websocket.js';

const page = globalThis as { TeamPassWebSocket?: unknown; TeamPassServerError?: unknown };
page.TeamPassWebSocket = TeamPassWebSocket;
page.TeamPassServerError = TeamPassServerError;
