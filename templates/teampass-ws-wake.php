<?php
/**
 * teampass-ws wake-up script for TeamPass.
 *
 * teampass-ws reads websocket_events every poll_interval_ms. One UDP datagram to its wake_port
 * after an event is committed makes it read the table at once, so notifications arrive without
 * waiting for the next poll. Losing a datagram costs only that wait: events are never lost.
 *
 * Use, either:
 *  - include it for every request, without touching TeamPass's code, in the PHP-FPM pool or the
 *    virtual host:  php_admin_value[auto_prepend_file] = /opt/teampass-ws/templates/teampass-ws-wake.php
 *    Every POST request (TeamPass changes things through POSTs to sources/*.queries.php) then
 *    sends one datagram when it ends, after its database writes are committed;
 *  - or require it and call teampassWsWake() right after emitWebSocketEvent(), e.g. in scripts
 *    run from the command line (TeamPass's background tasks):
 *        emitWebSocketEvent('task_completed', 'user', $userId, $payload);
 *        teampassWsWake();
 *
 * The port is the daemon's wake_port (config.json "wake_port", --wake-port), 8079 unless
 * TEAMPASS_WS_WAKE_PORT says otherwise: as a constant defined before this file is included, or
 * as an environment variable (PHP-FPM pool: env[TEAMPASS_WS_WAKE_PORT] = 8079). 0 turns it off.
 * Nothing here blocks, throws or prints: TeamPass's request is never slowed down or broken.
 */
declare(strict_types=1);

if (!defined('TEAMPASS_WS_WAKE_PORT')) {
    $teampassWsWakePort = getenv('TEAMPASS_WS_WAKE_PORT');
    define('TEAMPASS_WS_WAKE_PORT', is_string($teampassWsWakePort) && ctype_digit($teampassWsWakePort) ? (int) $teampassWsWakePort : 8079);
    unset($teampassWsWakePort);
}

if (!function_exists('teampassWsWake')) {
    /**
     * Sends the wake-up datagram to the daemon on this machine.
     *
     * @return bool true when the datagram left (not a proof that a daemon listens: UDP)
     */
    function teampassWsWake(?int $port = null, string $host = '127.0.0.1'): bool
    {
        $port = $port ?? (int) TEAMPASS_WS_WAKE_PORT;
        if ($port <= 0 || $port > 65535) {
            return false;
        }
        $errno = 0;
        $errstr = '';
        $socket = @stream_socket_client('udp://' . $host . ':' . $port, $errno, $errstr, 0.2);
        if ($socket === false) {
            return false;
        }
        $sent = @fwrite($socket, 'teampass-ws:wake');
        @fclose($socket);
        return is_int($sent) && $sent > 0;
    }
}

if (!function_exists('teampassWsWakeAtShutdown')) {
    /** Sends one datagram when the request ends, after its writes are committed; once per request. */
    function teampassWsWakeAtShutdown(): void
    {
        static $registered = false;
        if ($registered) {
            return;
        }
        $registered = true;
        // A datagram takes microseconds: no need to end the response early, which would also
        // silence any later shutdown function of TeamPass's.
        register_shutdown_function(static function (): void {
            teampassWsWake();
        });
    }
}

if (PHP_SAPI !== 'cli' && ($_SERVER['REQUEST_METHOD'] ?? 'GET') === 'POST' && (int) TEAMPASS_WS_WAKE_PORT > 0) {
    teampassWsWakeAtShutdown();
}
