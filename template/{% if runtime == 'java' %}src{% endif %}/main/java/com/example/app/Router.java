package com.example.app;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The service's routes, as a pure function from request to response. The HTTP server
 * ({@link App}) and the Lambda handler ({@link LambdaHandler}) both call it, so the
 * service answers alike on ECS, EC2 and Lambda.
 */
final class Router {

    static final int MAX_NAME_LENGTH = 64;

    /** Every route answers these; HEAD as GET does, and the server or Lambda handler leaves out the body. */
    static final String ALLOWED_METHODS = "GET, HEAD";

    /** What /hello accepts: ASCII letters, digits, space, '-', '_' and '.'. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9 ._-]*");

    private final ServiceInfo service;

    Router(ServiceInfo service) {
        this.service = service;
    }

    /** Answers one request; {@code query} holds the decoded query parameters. */
    Response handle(String method, String path, Map<String, String> query) {
        return switch (path == null ? "" : path) {
            case "/health" -> allowed(method) ? health() : methodNotAllowed();
            case "/hello" -> allowed(method) ? hello(query.get("name")) : methodNotAllowed();
            default -> Response.error(404, "not found");
        };
    }

    private Response health() {
        return Response.json(200, Json.object("status", "ok", "service", service.name(), "version", service.version()));
    }

    private Response hello(String name) {
        if (name == null || name.isEmpty()) {
            name = "world";
        }
        if (name.codePointCount(0, name.length()) > MAX_NAME_LENGTH) {
            return Response.error(400, "name must be at most " + MAX_NAME_LENGTH + " characters");
        }
        if (!NAME.matcher(name).matches()) {
            return Response.error(400, "name may contain only letters, digits, spaces, '-', '_' and '.'");
        }
        return Response.json(200, Json.object("message", "Hello, " + name + "!"));
    }

    private static boolean allowed(String method) {
        return "GET".equals(method) || "HEAD".equals(method);
    }

    private static Response methodNotAllowed() {
        return Response.error(405, "method not allowed").withHeader("allow", ALLOWED_METHODS);
    }

    /**
     * Decodes a raw query string ("a=1&b=x+y"). The first value of a name wins; a pair
     * that does not decode is dropped, so it cannot spoil the others.
     */
    static Map<String, String> parseQuery(String rawQuery) {
        Map<String, String> query = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return query;
        }
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            try {
                query.putIfAbsent(URLDecoder.decode(name, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException malformed) {
                // a bad %-escape: skip the pair
            }
        }
        return query;
    }
}
