package com.example.app;

import java.io.ByteArrayOutputStream;
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
     * Decodes a raw query string ("a=1&b=x+y") as the Python and Node.js apps and WHATWG
     * URLSearchParams do: a '%' not followed by two hex digits stays as it is (where
     * URLDecoder throws), and of a name given twice the last value counts.
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
            query.put(decode(name), decode(value));
        }
        return query;
    }

    /** '+' as a space, %XX as its byte, a bad escape kept as it is; bytes that are not UTF-8 become U+FFFD. */
    static String decode(String component) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] in = component.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < in.length; i++) {
            if (in[i] == '+') {
                out.write(' ');
            } else if (in[i] == '%' && i + 2 < in.length && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
                out.write(hex(in[i + 1]) * 16 + hex(in[i + 2]));
                i += 2;
            } else {
                out.write(in[i]);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static int hex(byte c) {
        return Character.digit(c, 16);
    }
}
