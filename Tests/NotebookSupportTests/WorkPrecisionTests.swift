import NotebookSupport
import Testing

/// `fastest(_:at:excluding:)`, which every "speed-up at matched error" a benchmark prints comes
/// from: interpolation on each method's Pareto front, the conservative stand-in beyond a curve's
/// loose end, and exclusions.
@Suite struct WorkPrecisionTests {
    static func run(_ method: String, _ error: Double, _ seconds: Double) -> WorkPrecisionPoint {
        WorkPrecisionPoint(method: method, reltol: 0, error: error, nf: 0, steps: 0, seconds: seconds, retcode: "Success")
    }

    @Test func interpolatesInLogLogBetweenRuns() throws {
        let points = [Self.run("A", 1e-4, 1), Self.run("A", 1e-8, 100)]
        let at = try #require(fastest(points, at: 1e-6, excluding: []))
        #expect(at.method == "A")
        #expect(abs(at.seconds - 10) < 1e-9)  // halfway in log error, halfway in log time
    }

    @Test func dominatedRunsDoNotBendTheCurve() throws {
        // A diverged loose run (huge error, slow) and a slow accurate-enough run: both dominated.
        let points = [
            Self.run("A", 1e10, 50), Self.run("A", 1e-4, 1), Self.run("A", 1e-5, 20), Self.run("A", 1e-6, 5),
            Self.run("A", 1e-8, 100),
        ]
        // Through the dominated (1e-5, 20) the time at 1e-5 would be 20; on the front it is the
        // interpolation between (1e-4, 1) and (1e-6, 5).
        let at = try #require(fastest(points, at: 1e-5, excluding: []))
        #expect(abs(at.seconds - 5.0.squareRoot()) < 1e-9)
        // Looser than every run but the diverged one: the fastest run at least as accurate.
        let loose = try #require(fastest(points, at: 1e-2, excluding: []))
        #expect(loose.seconds == 1)
    }

    @Test func beyondTheLooseEndTheFastestMoreAccurateRunStandsIn() throws {
        let points = [Self.run("A", 1e-6, 3), Self.run("A", 1e-8, 30), Self.run("B", 1e-3, 10), Self.run("B", 1e-9, 80)]
        let at = try #require(fastest(points, at: 1e-4, excluding: []))
        #expect(at.method == "A" && at.seconds == 3)
        #expect(fastest(points, at: 1e-12, excluding: []) == nil)  // nobody that accurate
        let withoutA = try #require(fastest(points, at: 1e-4, excluding: ["A"]))
        #expect(withoutA.method == "B")
    }
}
