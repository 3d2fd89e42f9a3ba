package com.example.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LambdaHandlerTest {

    private final LambdaHandler handler = new LambdaHandler(new Router(new ServiceInfo("orders", "1.2.3")));

    /** A function URL event (payload format 2.0), trimmed to the fields that matter. */
    private static Map<String, Object> urlEvent(String method, String path, String rawQuery) {
        return Map.of(
                "version", "2.0",
                "rawPath", path,
                "rawQueryString", rawQuery,
                "requestContext", Map.of("http", Map.of("method", method, "path", path)));
    }

    /** A REST API event (payload format 1.0); queryStringParameters is null without a query. */
    private static Map<String, Object> restEvent(String method, String path, Map<String, String> query) {
        Map<String, Object> event = new HashMap<>();
        event.put("resource", "/{proxy+}");
        event.put("httpMethod", method);
        event.put("path", path);
        event.put("queryStringParameters", query);
        return event;
    }

    private static void assertResult(int status, String body, Map<String, Object> result) {
        assertEquals(status, result.get("statusCode"));
        assertEquals(Map.of("content-type", "application/json", "x-content-type-options", "nosniff", "cache-control", "no-store"),
                result.get("headers"));
        assertEquals(body, result.get("body"));
    }

    @Test
    void functionUrlHealth() {
        assertResult(200, "{\"status\":\"ok\",\"service\":\"orders\",\"version\":\"1.2.3\"}",
                handler.handleRequest(urlEvent("GET", "/health", "")));
    }

    @Test
    void functionUrlReadsTheRawQueryString() {
        assertResult(200, "{\"message\":\"Hello, Ada Lovelace!\"}",
                handler.handleRequest(urlEvent("GET", "/hello", "name=Ada+Lovelace")));
    }

    @Test
    void functionUrlFallsBackToQueryStringParameters() {
        Map<String, Object> event = new HashMap<>(urlEvent("GET", "/hello", ""));
        event.remove("rawQueryString");
        event.put("queryStringParameters", Map.of("name", "Ada"));
        assertResult(200, "{\"message\":\"Hello, Ada!\"}", handler.handleRequest(event));
    }

    @Test
    void restApiHello() {
        assertResult(200, "{\"message\":\"Hello, Grace!\"}", handler.handleRequest(restEvent("GET", "/hello", Map.of("name", "Grace"))));
        assertResult(200, "{\"message\":\"Hello, world!\"}", handler.handleRequest(restEvent("GET", "/hello", null)));
    }

    @Test
    void errorsKeepTheirStatus() {
        assertResult(404, "{\"error\":\"not found\"}", handler.handleRequest(urlEvent("GET", "/nope", "")));
        assertEquals(400, handler.handleRequest(restEvent("GET", "/hello", Map.of("name", "a/b"))).get("statusCode"));
        Map<String, Object> notAllowed = handler.handleRequest(urlEvent("POST", "/health", ""));
        assertEquals(405, notAllowed.get("statusCode"));
        assertEquals(Map.of("content-type", "application/json", "x-content-type-options", "nosniff", "cache-control", "no-store",
                "allow", "GET, HEAD"), notAllowed.get("headers"));
    }

    @Test
    void headAnswersAsGetWithoutABody() {
        Map<String, Object> get = handler.handleRequest(urlEvent("GET", "/health", ""));
        Map<String, Object> head = handler.handleRequest(urlEvent("HEAD", "/health", ""));
        assertEquals(get.get("statusCode"), head.get("statusCode"));
        assertEquals(get.get("headers"), head.get("headers"));
        assertEquals("", head.get("body"));
        assertEquals(404, handler.handleRequest(restEvent("HEAD", "/nope", null)).get("statusCode"));
    }

    @Test
    void anEventThatIsNotHttpIsNotFound() {
        assertEquals(404, handler.handleRequest(Map.of()).get("statusCode"));
        assertEquals(404, handler.handleRequest(null).get("statusCode"));
    }
}
