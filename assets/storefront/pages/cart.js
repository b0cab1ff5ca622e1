// The cart: its lines (with what keeps one out of an order), its total, and placing the order.
import { gql } from '../api.js';
import { CART, PLACE_ORDER, REMOVE_FROM_CART } from '../queries.js';
import { ErrorNote, Link, Loading, Poster, changed, html, navigate, useAction, useLoad, useTitle } from '../ui.js';

const PROBLEMS = {
  UNAVAILABLE: 'Not on sale any more: it stays here but cannot be ordered.',
  ALREADY_PURCHASED: 'Already in your library.',
  IN_PENDING_ORDER: 'Waiting in one of your orders.',
};

export function CartPage() {
  useTitle('Cart');
  const cart = useLoad(() => gql(CART).then((data) => data.cart), []);
  const remove = useAction(async (id) => {
    cart.setData((await gql(REMOVE_FROM_CART, { id })).removeFromCart);
    changed();
  });
  const order = useAction(async () => {
    const placed = (await gql(PLACE_ORDER)).placeOrder;
    changed();
    navigate(`/orders/${placed.order.id}`);
  });
  if (cart.loading && !cart.data) return html`<${Loading} what="Loading your cart" />`;
  if (cart.error) return html`<${ErrorNote} error=${cart.error} />`;
  const c = cart.data;
  return html`<h1>Your cart</h1>
    ${c.count === 0
      ? html`<p>Your cart is empty. <${Link} href="/">Browse the catalog<//></p>`
      : html`<ul class="lines">
            ${c.lines.map(
              (line) => html`<li key=${line.movie.id}>
                <${Poster} poster=${line.movie.poster} name=${line.movie.name} className="thumb" />
                <div class="grow">
                  <${Link} href=${`/movies/${line.movie.id}`}>${line.movie.name} (${line.movie.year})<//>
                  ${line.problem && html`<p class="warning">${PROBLEMS[line.problem] || line.problem}</p>`}
                </div>
                <span class="price">${line.price.formatted}</span>
                <button type="button" class="link danger" onClick=${() => remove.run(line.movie.id)}
                  aria-label=${`Remove ${line.movie.name} from the cart`}>Remove</button>
              </li>`,
            )}
          </ul>
          <p class="total">Total <strong>${c.total.formatted}</strong></p>
          <button type="button" class="primary" onClick=${order.run} disabled=${order.busy}>Place order</button>`}
    <${ErrorNote} error=${remove.error || order.error} />`;
}
