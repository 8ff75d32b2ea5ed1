@testable import StiffSolvers
import Testing

/// `StageRefinement.largestMagnitude` (four lanes) must give the refinement rule the value of the
/// entry-by-entry scan it replaced, `largest = max(largest, |a_k|)` from 0, so that the decision
/// `γ|h|·max|J| > 1e3` and every hash stay as they were.
@Suite struct StageRefinementScanTests {
    static func sequential(_ a: [Double]) -> Double {
        var largest = 0.0
        for x in a { largest = Swift.max(largest, Swift.abs(x)) }
        return largest
    }

    @Test func fourLanesGiveTheSequentialScan() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            // SplitMix64, mapped to a signed value over many binades.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let mantissa = Double(z >> 11) / Double(1 << 53)
            let exponent = Int(z & 63) - 32
            return (z & 64 == 0 ? 1 : -1) * mantissa * Double(sign: .plus, exponent: exponent, significand: 1)
        }
        let specials: [Double] = [.nan, -0.0, 0.0, .infinity, -.infinity, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]
        var cases = 0
        for count in 0...17 {
            for trial in 0..<40 {
                var a = (0..<count).map { _ in next() }
                // Place special values at every lane position over the trials.
                if count > 0, trial % 2 == 1 { a[trial % count] = specials[trial % specials.count] }
                if count > 1, trial % 5 == 3 { a[(trial * 7) % count] = .nan }
                let lanes = a.withUnsafeBytes { StageRefinement.largestMagnitude($0) }
                let expected = Self.sequential(a)
                #expect(lanes.bitPattern == expected.bitPattern, "count \(count), trial \(trial): \(lanes) vs \(expected) for \(a)")
                cases += 1
            }
        }
        #expect(cases == 18 * 40)
    }
}
