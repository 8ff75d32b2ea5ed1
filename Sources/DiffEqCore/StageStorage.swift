/// A fixed-size block of elements in manually managed memory, for the stage vectors and
/// coefficient tables of a stepper: a step's stage sums are then plain pointer arithmetic, with
/// no bounds check, array uniqueness check or reference counting per element or per stage.
///
/// Value semantics are the owner's job. A stepper that writes a block checks
/// `isKnownUniquelyReferenced` once per step and writes to a ``copy()`` when the block is shared
/// (a copied stepper or integrator); a block never written after `init` (a coefficient table)
/// is simply shared by copies of its owner.
///
/// Shared by the method families in this package (ExplicitRK, StiffSolvers); not public API.
@usableFromInline
package final class StageStorage<Element> {
    @usableFromInline package let base: UnsafeMutablePointer<Element>
    @usableFromInline package let count: Int

    @usableFromInline
    package init(repeating value: Element, count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        base.initialize(repeating: value, count: count)
    }

    /// A block holding `values`.
    @usableFromInline
    package init(_ values: [Element]) {
        count = values.count
        base = .allocate(capacity: values.count)
        _ = UnsafeMutableBufferPointer(start: base, count: values.count).initialize(from: values)
    }

    @usableFromInline
    init(copying source: UnsafePointer<Element>, count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        base.initialize(from: source, count: count)
    }

    /// A new block with the same elements.
    @usableFromInline
    package func copy() -> StageStorage {
        StageStorage(copying: base, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }
}

extension StageStorage where Element: AdditiveArithmetic {
    /// A block of `count` zeros.
    @usableFromInline
    package convenience init(count: Int) {
        self.init(repeating: .zero, count: count)
    }
}
