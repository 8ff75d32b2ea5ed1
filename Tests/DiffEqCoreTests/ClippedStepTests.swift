import Testing
import DiffEqCore

/// `clippedStep` answers outside its drift window without computing the window (a per-step
/// saving); these cases check that it still returns the bits of the rule as documented, on
/// both sides of each bound of the window and for non-finite inputs.
@Suite struct ClippedStepTests {
    /// The documented rule, evaluated in full.
    private func rule(_ t: Double, _ dt: Double, _ target: Double, _ dir: Double, _ steps: Int) -> (Double, Bool) {
        let m = Swift.abs(dt)
        let drift = Swift.min(Double(steps + 1) * Swift.max(Swift.abs(t), Swift.abs(target)).ulp, 0.01 * m)
        if dir * (t + dt - target) >= -Swift.max(1e-12 * m, drift) { return (target - t, true) }
        return (dt, false)
    }

    @Test func agreesWithTheFullRule() {
        var cases: [(Double, Double, Double, Double, Int)] = []
        for dir in [1.0, -1.0] {
            for t in [0.0, 1e-300, 0.3, 1.0, 7.25, 1e6] {
                for dt in [1e-9, 0.001, 0.1, 1.0] {
                    for steps in [0, 3, 1_000, 10_000_000] {
                        let window = Swift.min(Double(steps + 1) * Swift.max(Swift.abs(t), Swift.abs(t + dir * dt)).ulp, 0.01 * dt)
                        // Targets whose gap sits at, just inside and just outside each bound.
                        for gap in [0.0, 1e-12 * dt, 0.01 * dt, window, 2 * window, 0.5 * window] {
                            for g in [gap, gap.nextUp, gap.nextDown, -gap, (-gap).nextUp, (-gap).nextDown] {
                                cases.append((dir * t, dir * dt, dir * (t + dt + g), dir, steps))
                            }
                        }
                    }
                }
            }
        }
        for bad in [Double.nan, .infinity, -.infinity] {
            cases += [(bad, 0.1, 1, 1, 0), (0, bad, 1, 1, 0), (0, 0.1, bad, 1, 0), (0, 0.1, 1, bad, 0)]
        }
        cases.append((0.5, 0, 0.5, 1, 0))
        for (t, dt, target, dir, steps) in cases {
            let (h, landing) = clippedStep(from: t, dt: dt, toward: target, direction: dir, steps: steps)
            let (hr, landingR) = rule(t, dt, target, dir, steps)
            #expect(h.bitPattern == hr.bitPattern && landing == landingR, "t \(t) dt \(dt) target \(target) dir \(dir) steps \(steps)")
        }
    }
}
